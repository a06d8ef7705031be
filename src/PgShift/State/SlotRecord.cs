using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>
/// What the task's row says of its replication slot: that its creation began (said before the slot exists, so that
/// a start interrupted before the slot is recorded can tell its own slot), and the slot with its consistent point.
/// </summary>
public static class SlotRecord
{
    /// <summary>The task has recorded its slot on this target (creating the task store if it is missing).</summary>
    public static async Task<bool> IsRecordedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pgshift.tasks WHERE name = @t AND consistent_lsn IS NOT NULL)", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>The consistent point of the task's recorded slot; null when it has recorded none.</summary>
    public static async Task<NpgsqlLogSequenceNumber?> ConsistentLsnAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT consistent_lsn FROM pgshift.tasks WHERE name = @t AND consistent_lsn IS NOT NULL", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is NpgsqlLogSequenceNumber lsn ? lsn : null;
    }

    /// <summary>This target's task started creating its slot and never recorded it.</summary>
    public static async Task<bool> CreationInterruptedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT slot_creating_at IS NOT NULL AND consistent_lsn IS NULL FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Says that the task is about to create its slot (the task's row is created if it has none).</summary>
    public static async Task MarkCreatingAsync(NpgsqlConnection target, string task, string source, CancellationToken ct)
    {
        await using var intent = new NpgsqlCommand("""
            INSERT INTO pgshift.tasks (name, source, phase, slot_creating_at) VALUES (@t, @src, 'copy', now())
            ON CONFLICT (name) DO UPDATE SET slot_creating_at = now()
            """, target);
        intent.Parameters.AddWithValue("t", task);
        intent.Parameters.AddWithValue("src", source);
        await intent.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records that the task's slot is gone from the source ('pgshift cleanup' dropped it), so that status no longer shows it as there.</summary>
    public static async Task MarkDroppedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.tasks SET slot_dropped_at = coalesce(slot_dropped_at, now()), slot_retained_bytes = NULL, updated_at = now()
            WHERE name = @t AND slot_name IS NOT NULL
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records the slot the task created and its consistent point, where the stream starts.</summary>
    public static async Task RecordAsync(NpgsqlConnection target, string task, string source, string slotName, NpgsqlLogSequenceNumber consistentLsn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET slot_name = @s, consistent_lsn = @l, slot_creating_at = NULL, slot_dropped_at = NULL, updated_at = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("s", slotName);
        cmd.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = consistentLsn });
        if (await cmd.ExecuteNonQueryAsync(ct) == 0)
        {
            await using var insert = new NpgsqlCommand("INSERT INTO pgshift.tasks (name, source, phase, slot_name, consistent_lsn) VALUES (@t, @src, 'copy', @s, @l)", target);
            insert.Parameters.AddWithValue("t", task);
            insert.Parameters.AddWithValue("src", source);
            insert.Parameters.AddWithValue("s", slotName);
            insert.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = consistentLsn });
            await insert.ExecuteNonQueryAsync(ct);
        }
    }
}
