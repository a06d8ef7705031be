namespace PgShift.Progress;

/// <summary>Calls <c>publish</c> at a steady pace until disposed, and once more then, so the last call shows the end.</summary>
public sealed class ProgressTicker : IAsyncDisposable
{
    private readonly Action _publish;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;

    public ProgressTicker(Action publish, TimeSpan interval)
    {
        _publish = publish;
        _timer = new PeriodicTimer(interval);
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        while (await _timer.WaitForNextTickAsync())
        {
            _publish();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop;
        _publish();
    }
}
