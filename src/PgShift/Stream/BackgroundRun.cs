namespace PgShift.Stream;

/// <summary>
/// Work that runs beside a phase of the task until stopped (staging, applying during the copy): started once, stopped
/// by cancelling its token and waiting for it to end. The work handles its own failures; stopping never throws them.
/// </summary>
internal sealed class BackgroundRun(Func<CancellationToken, Task> work) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

    /// <summary>Starts the work (once: false when it was started already).</summary>
    public bool Start()
    {
        if (_running is not null)
        {
            return false;
        }
        _running = Task.Run(() => work(_stop.Token), CancellationToken.None);
        return true;
    }

    /// <summary>Cancels the work and waits until it has ended.</summary>
    public async Task StopAsync()
    {
        if (_running is not { } running)
        {
            return;
        }
        await _stop.CancelAsync();
        await running;
        _running = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
