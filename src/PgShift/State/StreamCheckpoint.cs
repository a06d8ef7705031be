using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>
/// Where a task's change stream stands on the target: the end LSN of the last source transaction applied, written by
/// the very target transaction that applies it (so progress commits with the data, exactly once across crashes).
/// </summary>
public static class StreamCheckpoint
{
    /// <summary>
    /// The statement that records <paramref name="appliedLsn"/>, to go last in the batch that commits the applied
    /// changes: the caller sends it in its own transaction.
    /// </summary>
    public static NpgsqlBatchCommand Command(string task, NpgsqlLogSequenceNumber appliedLsn)
    {
        var checkpoint = new NpgsqlBatchCommand("UPDATE pgshift.tasks SET applied_lsn = $1 WHERE name = $2");
        checkpoint.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.PgLsn, Value = appliedLsn });
        checkpoint.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = task });
        return checkpoint;
    }

    /// <summary>Whether the task's stream has applied (and so recorded) a position: false while its tables are still copied.</summary>
    public static async Task<bool> HasAppliedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT applied_lsn IS NOT NULL FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Where the stream starts: after the last applied transaction, else at the slot's consistent point; null when neither is recorded.</summary>
    public static async Task<NpgsqlLogSequenceNumber?> StartAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(applied_lsn, consistent_lsn) FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is NpgsqlLogSequenceNumber lsn ? lsn : null;
    }
}
