using Npgsql;
using PgShift.Connections;

namespace PgShift.State;

/// <summary>
/// The task's advisory lock on the target, held by one connection for the whole run. A restart of the target ends
/// that session and frees the lock: <see cref="EnsureHeldAsync"/> takes it again before the stream goes on, and
/// refuses to go on when another process took the task meanwhile.
/// </summary>
public sealed class TaskLock(ConnectionSpec target, string task, NpgsqlConnection connection) : IAsyncDisposable
{
    /// <summary>
    /// A pgshift process runs this task now: it holds the task's advisory lock on the target for its whole run,
    /// also while it waits for an unreachable source.
    /// </summary>
    public static async Task<bool> IsHeldAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT CASE WHEN pg_try_advisory_lock(hashtext('pgshift:' || @t)) THEN NOT pg_advisory_unlock(hashtext('pgshift:' || @t)) ELSE true END", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Takes the task's advisory lock on a connection kept open for the run; refuses a second process for the same task.</summary>
    public static async Task<TaskLock> AcquireAsync(ConnectionSpec target, string task, CancellationToken ct)
        => new(target, task, await TakeLockAsync(target, task, ct));

    private static async Task<NpgsqlConnection> TakeLockAsync(ConnectionSpec target, string task, CancellationToken ct)
    {
        var conn = await ConnectionOpener.OpenAsync(target, "pgshift task lock", ct);
        await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtext('pgshift:' || @t))", conn);
        cmd.Parameters.AddWithValue("t", task);
        object? locked;
        try
        {
            locked = await cmd.ExecuteScalarAsync(ct);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException { SqlState: not ("57P01" or "57P02" or "57P03") } && !ct.IsCancellationRequested)
        {
            // The session was ended just after it opened (the target shutting down): said like any failure to connect.
            await conn.DisposeAsync();
            throw new ConnectionFailedException(target, ConnectionFailure.From(ex, target), ex);
        }
        if (locked is not true)
        {
            await conn.DisposeAsync();
            throw new TaskBusyException($"Another pgshift process is running task {task} on this target.",
                $"Use 'pgshift status --task {task}' to watch it, 'pgshift stop' to stop it, or 'pgshift cutover' to cut it over.");
        }
        return conn;
    }

    private NpgsqlConnection _connection = connection;

    public async Task EnsureHeldAsync(CancellationToken ct)
    {
        if (await ConnectionOpener.IsAliveAsync(_connection, ct))
        {
            return;
        }
        // The session that held the lock is gone, and the lock with it.
        await _connection.DisposeAsync();
        try
        {
            _connection = await TakeLockAsync(target, task, ct);
        }
        catch (TaskBusyException)
        {
            throw new PgShiftException($"Another pgshift process took over task {task} while this one had lost the target.",
                $"Let that process run the task ('pgshift status --task {task}'); this one stops here.");
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>Another process runs the task: it holds the task's lock on the target.</summary>
public sealed class TaskBusyException(string message, string fix) : PgShiftException(message, fix);
