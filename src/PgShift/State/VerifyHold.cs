using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>
/// A verify's hold on a task's change stream, kept in the task's row: the verify asks the applier to stop at a source
/// position (applying every transaction committed before it, none after), and the stream records where it holds.
/// </summary>
public static class VerifyHold
{
    /// <summary>A hold position that every transaction is at or after: the stream pauses at its next transaction boundary.</summary>
    public static readonly NpgsqlLogSequenceNumber PauseEverything = new(1);

    /// <summary>Asks the stream to hold at <paramref name="lsn"/>; null lifts the hold.</summary>
    public static async Task SetAsync(NpgsqlConnection target, string task, NpgsqlLogSequenceNumber? lsn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET verify_hold_lsn = @l, verify_held_at = NULL WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = lsn is { } l ? l : DBNull.Value });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Whether the stream has recorded that it holds at <paramref name="lsn"/>.</summary>
    public static async Task<bool> IsHeldAtAsync(NpgsqlConnection target, string task, NpgsqlLogSequenceNumber lsn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT verify_held_at = @l FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = lsn });
        return await cmd.ExecuteScalarAsync(ct) is true;
    }
}
