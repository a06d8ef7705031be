using Npgsql;
using NpgsqlTypes;
using PgShift.Progress;

namespace PgShift.State;

/// <summary>
/// A task's throttles, kept in its row: set by the command that runs the task and by 'pgshift throttle', read by the
/// running task every few seconds, so a limit changes while the task runs and outlives the process.
/// </summary>
public static class TaskLimits
{
    /// <summary>Sets the limits given (null: leave that one as it is; 0: no limit); false when the target has no such task.</summary>
    public static async Task<bool> SetAsync(NpgsqlConnection target, string task, long? copyBytesPerSecond, double? applyChangesPerSecond, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.tasks SET max_copy_rate = coalesce(@c, max_copy_rate), max_apply_rate = coalesce(@a, max_apply_rate), updated_at = now()
            WHERE name = @t
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.Add(new NpgsqlParameter("c", NpgsqlDbType.Bigint) { Value = copyBytesPerSecond is { } c ? c : DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("a", NpgsqlDbType.Double) { Value = applyChangesPerSecond is { } a ? a : DBNull.Value });
        return await cmd.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>The task's limits (none when it has no row, or none were ever set).</summary>
    public static async Task<RateLimits> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(max_copy_rate, 0), coalesce(max_apply_rate, 0) FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        return await rd.ReadAsync(ct) ? new RateLimits(rd.GetInt64(0), rd.GetDouble(1)) : RateLimits.None;
    }
}
