using Npgsql;

namespace PgShift.Torture;

/// <summary>
/// Watches the task's state on the target (<c>pgshift.tasks</c>: its phase and the stream's changes_applied) every
/// 20 ms, through restarts of the target. changes_applied counts per stream session, so the total adds up each
/// session's last figure (a lower reading means a new session began).
/// </summary>
public sealed class TaskMonitor : IAsyncDisposable
{
    private static readonly string[] Order = ["schema", "copy", "post-data", "stream", "cutover", "finished"];
    private readonly string _connectionString;
    private readonly string _task;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Task _loop;
    private NpgsqlConnection? _conn;
    private long _sessionChanges, _earlierChanges;

    public TaskMonitor(string targetConnectionString, string task)
    {
        _connectionString = targetConnectionString;
        _task = task;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The last phase read: none before the task exists.</summary>
    public string Phase { get; private set; } = "none";

    public long ChangesApplied => Interlocked.Read(ref _earlierChanges) + Interlocked.Read(ref _sessionChanges);

    /// <summary>Position of a phase in the task's order: none -1, schema 0 ... finished 5 (stopped counts as finished).</summary>
    public static int Rank(string phase) => phase == "stopped" ? Order.Length - 1 : Array.IndexOf(Order, phase);

    public int CurrentRank => Rank(Phase);

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            await ReadAsync();
            try
            {
                await Task.Delay(20, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Reads the state now; keeps the last reading when the target cannot be reached.</summary>
    public async Task<string> ReadAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await ReadOnceAsync();
        }
        finally
        {
            _gate.Release();
        }
        return Phase;
    }

    private async Task ReadOnceAsync()
    {
        try
        {
            if (_conn is null)
            {
                _conn = new NpgsqlConnection(_connectionString);
                await _conn.OpenAsync(_stop.Token);
            }
            await using var cmd = new NpgsqlCommand("""
                SELECT t.phase, coalesce(t.changes_applied, 0) FROM pgshift.tasks t WHERE t.name = @t
                """, _conn);
            cmd.Parameters.AddWithValue("t", _task);
            await using var rd = await cmd.ExecuteReaderAsync(_stop.Token);
            if (await rd.ReadAsync(_stop.Token))
            {
                lock (_stop)
                {
                    Phase = rd.GetString(0);
                    var changes = rd.GetInt64(1);
                    if (changes < _sessionChanges)
                    {
                        Interlocked.Add(ref _earlierChanges, _sessionChanges);
                    }
                    Interlocked.Exchange(ref _sessionChanges, changes);
                }
            }
        }
        catch (PostgresException ex) when (!ex.SqlState.StartsWith("57", StringComparison.Ordinal))
        {
            // No pgshift schema yet (42P01), or a column a newer PgShift added not there yet.
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or System.Net.Sockets.SocketException or TimeoutException)
        {
            if (_conn is not null)
            {
                await _conn.DisposeAsync();
                _conn = null;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        if (_conn is not null)
        {
            await _conn.DisposeAsync();
        }
    }
}
