using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Connections;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// Once a second: the source's WAL flush position and the slot's retained WAL, the delay computed from
/// them, the progress written to the task state, and the stop and cutover requests read from it.
/// </summary>
internal sealed class StreamMonitor(StreamOptions options, NpgsqlConnection source, string slotName, StreamProgress progress, ILogger logger) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        if (_state is not null)
        {
            await _state.DisposeAsync();
        }
    }

    private NpgsqlConnection? _state;
    private DateTime _lastCaughtUp = DateTime.UtcNow;
    private NpgsqlLogSequenceNumber? _previousFlush;
    private bool _previousSettled;
    private long _previousChanges;
    private DateTime _previousAt = DateTime.UtcNow;
    private long _warnedRetainedGb;

    public async Task<(bool Stop, bool Cutover, NpgsqlLogSequenceNumber? Hold)> TickAsync(ChangeApplier applier, NpgsqlLogSequenceNumber acked,
        NpgsqlLogSequenceNumber? heldAt, CancellationToken ct)
    {
        NpgsqlLogSequenceNumber flush;
        long retained;
        bool settled;
        await using (var cmd = new NpgsqlCommand(
            // With synchronous_commit = off on the source a committed transaction can sit unflushed for a while, and
            // decoding reads only flushed WAL: the flush position counts only once it has reached the insert position
            // (give or take a page header), else "caught up" could be declared before such a transaction is applied.
            """
            SELECT pg_current_wal_flush_lsn(),
                   coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = @s), 0),
                   pg_wal_lsn_diff(pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()) <= 64
            """, source))
        {
            cmd.Parameters.AddWithValue("s", slotName);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            flush = rd.GetFieldValue<NpgsqlLogSequenceNumber>(0);
            retained = rd.GetInt64(1);
            settled = rd.GetBoolean(2);
        }
        // "Caught up": what was acknowledged after applying has reached the flush position read a tick earlier.
        var reference = _previousFlush ?? flush;
        var caughtUp = !applier.HasPending && acked >= reference;
        // For the cutover, also nothing committed and still unflushed on the source (writes have stopped).
        progress.CaughtUpAndSettled = caughtUp && _previousSettled && settled;
        _previousFlush = flush;
        _previousSettled = settled;
        var now = DateTime.UtcNow;
        if (caughtUp)
        {
            _lastCaughtUp = now;
        }
        progress.CaughtUp = caughtUp;
        progress.DelayBytes = caughtUp ? 0 : Math.Max(0, (long)((ulong)flush - Math.Min((ulong)flush, (ulong)acked)));
        progress.DelaySeconds = caughtUp ? 0 : applier.OldestUnappliedAt is { } oldest ? (now - oldest).TotalSeconds : (now - _lastCaughtUp).TotalSeconds;
        progress.ChangesApplied = applier.ChangesApplied;
        progress.TransactionsApplied = applier.TransactionsApplied;
        progress.ChangesPerSecond = (applier.ChangesApplied - _previousChanges) / Math.Max(0.001, (now - _previousAt).TotalSeconds);
        progress.SlotRetainedBytes = retained;
        progress.AppliedLsn = applier.CommittedLsn.ToString();
        _previousChanges = applier.ChangesApplied;
        _previousAt = now;
        if (retained / (1L << 30) > _warnedRetainedGb)
        {
            _warnedRetainedGb = retained / (1L << 30);
            logger.LogWarning("The slot {Slot} keeps {GB} GB of WAL on the source; watch its disk", slotName, _warnedRetainedGb);
        }

        _state ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift state", ct);
        await using var update = new NpgsqlCommand($$"""
            UPDATE pgshift.tasks t SET delay_bytes = @b, delay_seconds = @s, changes_applied = @c, slot_retained_bytes = @r,
                   stream_heartbeat = now(), retrying_until = NULL, updated_at = now(), verify_held_at = @h
            WHERE name = @t
            RETURNING stop_requested, {{TaskRequests.LiveCutoverRequestSql}}, verify_hold_lsn, cutover_requested, cutover_requested_by
            """, _state);
        update.Parameters.AddWithValue("t", options.TaskName);
        update.Parameters.AddWithValue("b", progress.DelayBytes);
        update.Parameters.AddWithValue("s", progress.DelaySeconds);
        update.Parameters.AddWithValue("c", progress.ChangesApplied);
        update.Parameters.AddWithValue("r", retained);
        update.Parameters.Add(new NpgsqlParameter("h", NpgsqlDbType.PgLsn) { Value = heldAt is { } h ? h : DBNull.Value });
        (bool Stop, bool Cutover, NpgsqlLogSequenceNumber? Hold) requests = (false, false, null);
        int? orphaned = null;
        await using (var rd2 = await update.ExecuteReaderAsync(ct))
        {
            if (await rd2.ReadAsync(ct))
            {
                requests = (rd2.GetBoolean(0), rd2.GetBoolean(1), rd2.IsDBNull(2) ? null : rd2.GetFieldValue<NpgsqlLogSequenceNumber>(2));
                if (!requests.Cutover && rd2.GetBoolean(3))
                {
                    orphaned = rd2.IsDBNull(4) ? -1 : rd2.GetInt32(4);
                }
            }
        }
        if (orphaned is { } by)
        {
            // The 'pgshift cutover' that asked is gone (killed, its session lost): nobody waits, so nobody cuts over.
            logger.LogWarning("A cutover request for task {Task} was left by a 'pgshift cutover' that is no longer running; it is ignored and withdrawn",
                options.TaskName);
            await using var clear = new NpgsqlCommand(
                "UPDATE pgshift.tasks SET cutover_requested = false, cutover_requested_by = NULL WHERE name = @t AND cutover_requested_by IS NOT DISTINCT FROM @by", _state);
            clear.Parameters.AddWithValue("t", options.TaskName);
            clear.Parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Integer) { Value = by < 0 ? DBNull.Value : by });
            await clear.ExecuteNonQueryAsync(ct);
        }
        return requests;
    }
}
