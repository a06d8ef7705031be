using PgShift.Stream;

namespace PgShift.Cli;

/// <summary>The change stream's delay, rate and state: one line redrawn on a terminal, plain lines every 5 s otherwise.</summary>
internal sealed class StreamRenderer(StreamProgress progress, TextWriter output, bool terminal) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(async () =>
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(terminal ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5), _stop.Token);
                Draw();
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    private void Draw()
    {
        var line = $"stream  {progress.Describe()}";
        if (terminal)
        {
            output.Write("\r\u001b[2K" + line);
        }
        else
        {
            output.WriteLine(line);
        }
        output.Flush();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        Draw();
        if (terminal)
        {
            output.WriteLine();
        }
        _stop.Dispose();
    }
}
