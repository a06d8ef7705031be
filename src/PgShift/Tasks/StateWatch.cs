using Npgsql;
using PgShift.Connections;

namespace PgShift.Tasks;

/// <summary>
/// Reads the task's state at a steady pace on a session of its own, until disposed or until a read says it is done: how
/// requests made from any shell (a stop, new limits) reach the running task. A failed read is tried again at the next
/// tick on a new session (the task's phases meet the same outage and retry it themselves).
/// </summary>
internal sealed class StateWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _end = new();
    private readonly Task _loop;
    private int _disposed;

    /// <param name="read">Reads the state; true when the watch is done.</param>
    public StateWatch(ConnectionSpec target, string applicationName, TimeSpan interval, Func<NpgsqlConnection, CancellationToken, Task<bool>> read)
        => _loop = Task.Run(() => LoopAsync(target, applicationName, interval, read, _end.Token));

    private static async Task LoopAsync(ConnectionSpec target, string applicationName, TimeSpan interval,
        Func<NpgsqlConnection, CancellationToken, Task<bool>> read, CancellationToken end)
    {
        NpgsqlConnection? conn = null;
        try
        {
            while (true)
            {
                await Task.Delay(interval, end);
                try
                {
                    conn ??= await ConnectionOpener.OpenAsync(target, applicationName, end);
                    if (await read(conn, end))
                    {
                        return;
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or PgShiftException or InvalidOperationException && !end.IsCancellationRequested)
                {
                    if (conn is not null)
                    {
                        await conn.DisposeAsync();
                        conn = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
        }
        finally
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _end.CancelAsync();
        await _loop;
        _end.Dispose();
    }
}
