using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>The requests a running stream reads from its task's row on each tick.</summary>
/// <param name="Hold">A verify's hold position: transactions committed from there on wait.</param>
/// <param name="OrphanedCutover">A cutover request stands whose 'pgshift cutover' is gone; <paramref name="OrphanedCutoverBy"/> is the session that made it.</param>
public sealed record StreamRequests(bool Stop, bool Cutover, NpgsqlLogSequenceNumber? Hold, bool OrphanedCutover = false, int? OrphanedCutoverBy = null);

/// <summary>What a running change stream writes to its task's row: its delay and progress once a tick, and its retries.</summary>
public static class StreamReport
{
    /// <summary>Records the stream's delay and progress (and that it is alive, not retrying); returns the requests to it.</summary>
    /// <param name="heldAt">The hold position the stream has reached and waits at (a verify's), if any.</param>
    public static async Task<StreamRequests> RecordTickAsync(NpgsqlConnection target, string task, long delayBytes, double delaySeconds, long changesApplied,
        long slotRetainedBytes, NpgsqlLogSequenceNumber? heldAt, CancellationToken ct)
    {
        await using var update = new NpgsqlCommand($$"""
            UPDATE pgshift.tasks t SET delay_bytes = @b, delay_seconds = @s, changes_applied = @c, slot_retained_bytes = @r,
                   stream_heartbeat = now(), retrying_until = NULL, updated_at = now(), verify_held_at = @h
            WHERE name = @t
            RETURNING stop_requested, {{TaskRequests.LiveCutoverRequestSql}}, verify_hold_lsn, cutover_requested, cutover_requested_by
            """, target);
        update.Parameters.AddWithValue("t", task);
        update.Parameters.AddWithValue("b", delayBytes);
        update.Parameters.AddWithValue("s", delaySeconds);
        update.Parameters.AddWithValue("c", changesApplied);
        update.Parameters.AddWithValue("r", slotRetainedBytes);
        update.Parameters.Add(new NpgsqlParameter("h", NpgsqlDbType.PgLsn) { Value = heldAt is { } h ? h : DBNull.Value });
        await using var rd = await update.ExecuteReaderAsync(ct);
        if (!await rd.ReadAsync(ct))
        {
            return new StreamRequests(false, false, null);
        }
        var cutover = rd.GetBoolean(1);
        return new StreamRequests(rd.GetBoolean(0), cutover, rd.IsDBNull(2) ? null : rd.GetFieldValue<NpgsqlLogSequenceNumber>(2),
            OrphanedCutover: !cutover && rd.GetBoolean(3), OrphanedCutoverBy: rd.IsDBNull(4) ? null : rd.GetInt32(4));
    }

    /// <summary>Withdraws a cutover request left by a session that is gone (<paramref name="requestedBy"/>), unless a new one replaced it meanwhile.</summary>
    public static async Task WithdrawOrphanedCutoverAsync(NpgsqlConnection target, string task, int? requestedBy, CancellationToken ct)
    {
        await using var clear = new NpgsqlCommand(
            "UPDATE pgshift.tasks SET cutover_requested = false, cutover_requested_by = NULL WHERE name = @t AND cutover_requested_by IS NOT DISTINCT FROM @by", target);
        clear.Parameters.AddWithValue("t", task);
        clear.Parameters.Add(new NpgsqlParameter("by", NpgsqlDbType.Integer) { Value = requestedBy is { } by ? by : DBNull.Value });
        await clear.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records that the stream lost a server and retries until <paramref name="until"/>, and why.</summary>
    public static async Task RecordRetryAsync(NpgsqlConnection target, string task, DateTime until, string error, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET retrying_until = @u, last_error = @e, last_error_at = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("u", until);
        cmd.Parameters.AddWithValue("e", error);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
