using Npgsql;
using PgShift.Connections;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.Cutover;

/// <summary>Requests to a running task (stop, cutover) through its state; the cleanup of what it left on the source is <see cref="Replication.SlotCleanup"/>'s.</summary>
public static class TaskControl
{
    /// <summary>
    /// A pgshift process runs this task now: it holds the task's advisory lock on the target for its whole run,
    /// also while it waits for an unreachable source.
    /// </summary>
    public static async Task<bool> IsStreamingAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT CASE WHEN pg_try_advisory_lock(hashtext('pgshift:' || @t)) THEN NOT pg_advisory_unlock(hashtext('pgshift:' || @t)) ELSE true END", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Takes the task's advisory lock on a connection kept open for the run; refuses a second process for the same task.</summary>
    public static async Task<TaskLock> LockAsync(ConnectionSpec target, string task, CancellationToken ct)
        => new(target, task, await TakeLockAsync(target, task, ct));

    internal static async Task<NpgsqlConnection> TakeLockAsync(ConnectionSpec target, string task, CancellationToken ct)
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
            throw new PgShiftException($"Another pgshift process is running task {task} on this target.",
                $"Use 'pgshift status --task {task}' to watch it, 'pgshift stop' to stop it, or 'pgshift cutover' to cut it over.");
        }
        return conn;
    }

    /// <summary>
    /// Fences the source database for the cutover: new transactions in it are read-only, and the sessions connected to it
    /// (other than PgShift's own) are ended, so no write can come in after the stream has caught up.
    /// </summary>
    /// <returns>How many sessions were ended.</returns>
    public static async Task<int> FenceAsync(ConnectionSpec source, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cutover fence", ct);
        try
        {
            await AlterDatabaseAsync(conn, "SET default_transaction_read_only = on", ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "42501")
        {
            throw new PgShiftException($"Cannot fence the source database: {pe.MessageText}.",
                "Run the cutover with the database's owner or a superuser, or stop the application's writes yourself and cut over without --fence.");
        }
        await using var end = new NpgsqlCommand("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND coalesce(application_name, '') NOT LIKE 'pgshift%'
            """, conn);
        return (int)(long)(await end.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Lifts the fence of <see cref="FenceAsync"/>.</summary>
    public static async Task UnfenceAsync(ConnectionSpec source, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cutover fence", ct);
        await AlterDatabaseAsync(conn, "RESET default_transaction_read_only", ct);
    }

    /// <summary>ALTER DATABASE on the connection's own database, whose name the server quotes.</summary>
    private static async Task AlterDatabaseAsync(NpgsqlConnection conn, string change, CancellationToken ct)
    {
        await using var name = new NpgsqlCommand("SELECT quote_ident(current_database())", conn);
        await using var alter = new NpgsqlCommand($"ALTER DATABASE {(string)(await name.ExecuteScalarAsync(ct))!} {change}", conn);
        await alter.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Removes the task's record from the target's state (its tables stay): a later migrate of the name starts afresh.</summary>
    public static async Task PurgeAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        if (await IsStreamingAsync(target, task, ct))
        {
            throw new PgShiftException($"A pgshift process is running task {task}.", $"Stop it first (pgshift stop --task {task}), then purge.");
        }
        await using var cmd = new NpgsqlCommand("""
            DELETE FROM pgshift.copy_tables WHERE task = @t;
            DELETE FROM pgshift.task_phases WHERE task = @t;
            DELETE FROM pgshift.tasks WHERE name = @t;
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Waits until the task's phase is one of <paramref name="phases"/>, or its last error shows up with no process streaming.</summary>
    public static async Task<TaskStatusReport> WaitForPhaseAsync(NpgsqlConnection target, string task, string[] phases, Action<TaskStatusReport>? onTick, CancellationToken ct)
    {
        DateTime? unheldSince = null;
        while (true)
        {
            var report = await TaskStatusReport.LoadAsync(target, task, ct)
                ?? throw new PgShiftException($"Task {task} disappeared from the target.", "Check --target and --task.");
            onTick?.Invoke(report);
            if (phases.Contains(report.Phase))
            {
                return report;
            }
            var retrying = report.Stream?.RetryingUntil is { } until && until > DateTime.UtcNow;
            // A failure is the task's latest event: an error recorded before its last phase change or monitor tick is history.
            var running = await IsStreamingAsync(target, task, ct);
            if (!retrying && report.LastErrorAt is { } at && at >= report.UpdatedAt && !running)
            {
                throw new TaskFailedException($"Task {task} failed: {report.LastError}", "See the error; 'pgshift migrate' resumes the task once the cause is fixed.");
            }
            // A process that lost the target retakes the task's lock within its retry backoff (15 s at most); one that
            // stays away that long has exited without recording why.
            unheldSince = running ? null : unheldSince ?? DateTime.UtcNow;
            if (!retrying && DateTime.UtcNow - unheldSince > TimeSpan.FromSeconds(20))
            {
                throw new TaskFailedException($"No pgshift process is running task {task} any more, and it has not reached {string.Join(" or ", phases)} (phase {report.Phase}).",
                    "See the output of the 'pgshift migrate' process; 'pgshift migrate' resumes the task.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }
    }
}

/// <summary>
/// The task's advisory lock on the target, held by one connection for the whole run. A restart of the target ends
/// that session and frees the lock: <see cref="EnsureHeldAsync"/> takes it again before the stream goes on, and
/// refuses to go on when another process took the task meanwhile.
/// </summary>
public sealed class TaskLock(ConnectionSpec target, string task, NpgsqlConnection connection) : IAsyncDisposable
{
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
            _connection = await TaskControl.TakeLockAsync(target, task, ct);
        }
        catch (PgShiftException ex) when (ex.Message.StartsWith("Another pgshift process", StringComparison.Ordinal))
        {
            throw new PgShiftException($"Another pgshift process took over task {task} while this one had lost the target.",
                $"Let that process run the task ('pgshift status --task {task}'); this one stops here.");
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
