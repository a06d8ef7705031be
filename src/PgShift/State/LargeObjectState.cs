using Npgsql;

namespace PgShift.State;

/// <summary>Whether a task's full copy has copied the source's large objects (a rerun then leaves them to the cutover's synchronisation).</summary>
public static class LargeObjectState
{
    private const string Mark = "large-objects";

    public static async Task<bool> CopiedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pgshift.task_phases WHERE task = @t AND phase = @p)", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("p", Mark);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Records the copy done (unlike a phase, this leaves the task's current phase as it is).</summary>
    public static async Task MarkCopiedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("INSERT INTO pgshift.task_phases (task, phase) VALUES (@t, @p) ON CONFLICT DO NOTHING", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("p", Mark);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
