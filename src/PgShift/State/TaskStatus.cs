using Npgsql;
using PgShift.Progress;

namespace PgShift.State;

public sealed record TableStatus(string SourceTable, string TargetTable, string Status, long EstimatedBytes, long RowsCopied, long BytesCopied,
    DateTime? StartedAt, DateTime? FinishedAt, string? SyncLsn)
{
    /// <summary>The table's copy as <paramref name="now"/> sees it, its rate from its start.</summary>
    public TableCopySnapshot ToSnapshot(DateTime now)
    {
        var state = Status == "done" ? TableCopyState.Done : StartedAt is null ? TableCopyState.Waiting : TableCopyState.Copying;
        var seconds = StartedAt is { } started ? ((state == TableCopyState.Done ? FinishedAt ?? now : now) - started.ToUniversalTime()).TotalSeconds : 0;
        return new TableCopySnapshot(SourceTable, RowsCopied, BytesCopied, EstimatedBytes, state, seconds > 0 ? BytesCopied / seconds : 0);
    }
}

/// <summary>The change stream as its last monitor tick recorded it.</summary>
public sealed record StreamStatus(string? AppliedLsn, long DelayBytes, double DelaySeconds, long ChangesApplied, long SlotRetainedBytes,
    DateTime? Heartbeat, DateTime? RetryingUntil, bool Running, string? PausedAt = null)
{
    /// <summary>Under a second behind, and not held by a verify (whose hold stops the applier at a source position).</summary>
    public bool NotDelayed => ToSnapshot().NotDelayed;

    public StreamSnapshot ToSnapshot() => new(Running ? StreamLink.Connected : StreamLink.NotRunning, DelayBytes, DelaySeconds, ChangesApplied,
        AppliedLsn, SlotRetainedBytes, RetryingUntil, PausedAt);
}

/// <summary>The changes staged on the target while the tables copy (<see cref="StagedChanges"/>), as the last staging tick recorded them.</summary>
/// <param name="Bytes">Disk the staging table takes on the target.</param>
/// <param name="SlotRetainedBytes">WAL the task's slot keeps on the source.</param>
/// <param name="Applied">Of the changes staged, those applied during the copy to the tables already copied and indexed.</param>
public sealed record StagingStatus(long Changes, long Bytes, long SlotRetainedBytes, bool Running, long Applied = 0);

/// <summary>A task as its state on the target describes it, for `pgshift status` from any shell.</summary>
public sealed record TaskStatusReport(string Task, TaskPhase Phase, string Source, DateTime UpdatedAt, string? LastError, DateTime? LastErrorAt,
    string? SlotName, string? ConsistentLsn, IReadOnlyList<string> PhasesDone, IReadOnlyList<TableStatus> Tables)
{
    public StreamStatus? Stream { get; init; }

    /// <summary>Changes staged during the copy; null when the task never staged any.</summary>
    public StagingStatus? Staging { get; init; }

    /// <summary>The throttles the task runs with (<see cref="TaskLimits"/>).</summary>
    public RateLimits Limits { get; init; } = RateLimits.None;

    /// <summary>When 'pgshift cleanup' dropped the task's slot on the source; null while it is there.</summary>
    public DateTime? SlotDroppedAt { get; init; }

    /// <summary>The task's progress as its state records it: what the running task publishes, as far as the state keeps it.</summary>
    public TaskProgress ToProgress(DateTime now) => new(Task, Phase,
        Tables.Count > 0 ? new CopySnapshot([.. Tables.Select(t => t.ToSnapshot(now))], Tables.Min(t => t.StartedAt) is { } first ? (now - first.ToUniversalTime()).TotalSeconds : 0) : null,
        Stream?.ToSnapshot()) { Limits = Limits };

    /// <summary>The names of the tasks whose state the target holds (none when it has no state schema).</summary>
    public static async Task<List<string>> NamesAsync(NpgsqlConnection target, CancellationToken ct)
    {
        var names = new List<string>();
        await using (var check = new NpgsqlCommand("SELECT to_regclass('pgshift.tasks') IS NOT NULL", target))
        {
            if (!(bool)(await check.ExecuteScalarAsync(ct))!)
            {
                return names;
            }
        }
        await using var cmd = new NpgsqlCommand("SELECT name FROM pgshift.tasks ORDER BY name", target);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            names.Add(rd.GetString(0));
        }
        return names;
    }

    public static async Task<TaskStatusReport?> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using (var check = new NpgsqlCommand("SELECT to_regclass('pgshift.tasks') IS NOT NULL", target))
        {
            if (!(bool)(await check.ExecuteScalarAsync(ct))!)
            {
                return null;
            }
        }
        await StateSchema.EnsureAsync(target, null, ct);
        TaskStatusReport? report = null;
        await using (var cmd = new NpgsqlCommand("""
            SELECT phase, source, updated_at, last_error, last_error_at, slot_name, consistent_lsn::text,
                   array(SELECT phase FROM pgshift.task_phases WHERE task = t.name ORDER BY finished_at),
                   coalesce(max_copy_rate, 0), coalesce(max_apply_rate, 0), slot_dropped_at
            FROM pgshift.tasks t WHERE name = @t
            """, target))
        {
            cmd.Parameters.AddWithValue("t", task);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            if (await rd.ReadAsync(ct))
            {
                report = new TaskStatusReport(task, TaskPhases.Parse(rd.GetString(0)), rd.GetString(1), rd.GetDateTime(2), rd.IsDBNull(3) ? null : rd.GetString(3),
                    rd.IsDBNull(4) ? null : rd.GetDateTime(4), rd.IsDBNull(5) ? null : rd.GetString(5), rd.IsDBNull(6) ? null : rd.GetString(6),
                    rd.GetFieldValue<string[]>(7), []) { Limits = new RateLimits(rd.GetInt64(8), rd.GetDouble(9)), SlotDroppedAt = rd.IsDBNull(10) ? null : rd.GetDateTime(10) };
            }
        }
        if (report is null)
        {
            return null;
        }
        var tables = new List<TableStatus>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT source_table, target_table, status, estimated_bytes, rows_copied, bytes_copied, started_at, finished_at, sync_lsn::text
            FROM pgshift.copy_tables WHERE task = @t ORDER BY estimated_bytes DESC, source_table
            """, target))
        {
            cmd.Parameters.AddWithValue("t", task);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                tables.Add(new TableStatus(rd.GetString(0), rd.GetString(1), rd.GetString(2), rd.GetInt64(3), rd.GetInt64(4), rd.GetInt64(5),
                    rd.IsDBNull(6) ? null : rd.GetDateTime(6), rd.IsDBNull(7) ? null : rd.GetDateTime(7), rd.IsDBNull(8) ? null : rd.GetString(8)));
            }
        }
        await using (var cmd = new NpgsqlCommand("""
            SELECT applied_lsn::text, delay_bytes, delay_seconds, changes_applied, slot_retained_bytes, stream_heartbeat, retrying_until,
                   coalesce(stream_heartbeat > now() - interval '5 seconds', false), verify_hold_lsn::text
            FROM pgshift.tasks WHERE name = @t AND (applied_lsn IS NOT NULL OR stream_heartbeat IS NOT NULL)
            """, target))
        {
            cmd.Parameters.AddWithValue("t", task);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            if (await rd.ReadAsync(ct))
            {
                report = report with
                {
                    Stream = new StreamStatus(rd.IsDBNull(0) ? null : rd.GetString(0), rd.IsDBNull(1) ? 0 : rd.GetInt64(1), rd.IsDBNull(2) ? 0 : rd.GetDouble(2),
                        rd.IsDBNull(3) ? 0 : rd.GetInt64(3), rd.IsDBNull(4) ? 0 : rd.GetInt64(4), rd.IsDBNull(5) ? null : rd.GetDateTime(5),
                        rd.IsDBNull(6) ? null : rd.GetDateTime(6), rd.GetBoolean(7), rd.IsDBNull(8) ? null : rd.GetString(8)),
                };
            }
        }
        await using (var cmd = new NpgsqlCommand("""
            SELECT staged_changes, coalesce(pg_total_relation_size(to_regclass('pgshift.staged_changes')), 0), coalesce(slot_retained_bytes, 0),
                   coalesce(staging_heartbeat > now() - interval '5 seconds', false), coalesce(staged_applied, 0)
            FROM pgshift.tasks WHERE name = @t AND staged_seq IS NOT NULL
            """, target))
        {
            cmd.Parameters.AddWithValue("t", task);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            if (await rd.ReadAsync(ct))
            {
                report = report with { Staging = new StagingStatus(rd.GetInt64(0), rd.GetInt64(1), rd.GetInt64(2), rd.GetBoolean(3), rd.GetInt64(4)) };
            }
        }
        return report with { Tables = tables };
    }
}
