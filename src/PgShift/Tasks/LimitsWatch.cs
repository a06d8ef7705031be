using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Tasks;

/// <summary>
/// Reads the task's limits from its state every <see cref="Interval"/> and sets them on its throttles, until disposed:
/// how a 'pgshift throttle' from any shell reaches the running task.
/// </summary>
internal sealed class LimitsWatch : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly ConnectionSpec _target;
    private readonly string _task;
    private readonly TaskThrottles _throttles;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _end = new();
    private readonly Task _loop;

    public LimitsWatch(ConnectionSpec target, string task, TaskThrottles throttles, ILogger logger)
    {
        _target = target;
        _task = task;
        _throttles = throttles;
        _logger = logger;
        _loop = Task.Run(() => LoopAsync(_end.Token));
    }

    private async Task LoopAsync(CancellationToken end)
    {
        NpgsqlConnection? conn = null;
        try
        {
            while (true)
            {
                await Task.Delay(Interval, end);
                try
                {
                    conn ??= await ConnectionOpener.OpenAsync(_target, "pgshift throttle watch", end);
                    var limits = await TaskLimits.LoadAsync(conn, _task, end);
                    if (limits != _throttles.Limits)
                    {
                        _logger.LogInformation("Task {Task}: copy rate limit {Copy} bytes/s, apply rate limit {Apply} changes/s (0: none)",
                            _task, limits.CopyBytesPerSecond, limits.ApplyChangesPerSecond);
                        _throttles.Set(limits);
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or PgShiftException or InvalidOperationException && !end.IsCancellationRequested)
                {
                    // The task's phases meet the same outage and retry it; the limits stay as they are until the next read.
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
        await _end.CancelAsync();
        await _loop;
        _end.Dispose();
    }
}
