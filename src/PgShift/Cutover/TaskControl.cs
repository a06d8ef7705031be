using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.Cutover;

/// <summary>Requests to a running task (stop, cutover) through its state, and the cleanup of what it left on the source.</summary>
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
        if (await cmd.ExecuteScalarAsync(ct) is not true)
        {
            await conn.DisposeAsync();
            throw new PgShiftException($"Another pgshift process is running task {task} on this target.",
                $"Use 'pgshift status --task {task}' to watch it, 'pgshift stop' to stop it, or 'pgshift cutover' to cut it over.");
        }
        return conn;
    }

    public static async Task RequestAsync(NpgsqlConnection target, string task, string flag, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"UPDATE pgshift.tasks SET {flag} = true, updated_at = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Drops the task's slot and publication on the source. Refuses while a process still streams from the slot.</summary>
    public static async Task<List<string>> CleanupAsync(ConnectionSpec source, string task, CancellationToken ct)
    {
        var dropped = new List<string>();
        var slot = TaskName.SlotName(task);
        var publication = TaskName.PublicationName(task);
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cleanup", ct);
        await using (var cmd = new NpgsqlCommand("SELECT active FROM pg_replication_slots WHERE slot_name = @s", conn))
        {
            cmd.Parameters.AddWithValue("s", slot);
            var active = await cmd.ExecuteScalarAsync(ct);
            if (active is true)
            {
                throw new PgShiftException($"The slot {slot} is in use by a running process.", $"Stop the task first (pgshift stop --task {task}), then run cleanup again.");
            }
            if (active is false)
            {
                await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot(@s)", conn);
                drop.Parameters.AddWithValue("s", slot);
                await drop.ExecuteNonQueryAsync(ct);
                dropped.Add($"replication slot {slot}");
            }
        }
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = @p", conn))
        {
            cmd.Parameters.AddWithValue("p", publication);
            if ((long)(await cmd.ExecuteScalarAsync(ct))! > 0)
            {
                await using var drop = new NpgsqlCommand($"DROP PUBLICATION {Sql.Ident(publication)}", conn);
                await drop.ExecuteNonQueryAsync(ct);
                dropped.Add($"publication {publication}");
            }
        }
        return dropped;
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
