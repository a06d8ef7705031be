using Npgsql;

namespace PgShift.State;

/// <summary>
/// What a schema change applied by the stream changes in the task's state, in the apply transaction that records the
/// change's position (so a crash applies it once): a table renamed or reshaped, a table dropped, a table that joins
/// the task and waits for its copy.
/// </summary>
public static class SchemaChangeState
{
    /// <summary>A task table renamed on the source, or its streamed columns changed.</summary>
    public static async Task ReshapeAsync(NpgsqlConnection target, string task, string oldSource, string newSource, string targetTable,
        IReadOnlyList<string> streamColumns, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.copy_tables SET source_table = @n, target_table = @g, stream_columns = @c WHERE task = @t AND source_table = @o
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("o", oldSource);
        cmd.Parameters.AddWithValue("n", newSource);
        cmd.Parameters.AddWithValue("g", targetTable);
        cmd.Parameters.AddWithValue("c", streamColumns.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A task table dropped on the source: no longer copied, streamed or verified.</summary>
    public static async Task DropAsync(NpgsqlConnection target, string task, string source, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM pgshift.copy_tables WHERE task = @t AND source_table = @s", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("s", source);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A source table (by oid) to copy into the task once the change that created it (or rewrote it) has committed.</summary>
    public static async Task AddPendingAsync(NpgsqlConnection target, string task, uint oid, long changeId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO pgshift.stream_new_tables (task, source_oid, change_id) VALUES (@t, @o, @c) ON CONFLICT (task, source_oid) DO UPDATE SET change_id = excluded.change_id
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("o", NpgsqlTypes.NpgsqlDbType.Oid, oid);
        cmd.Parameters.AddWithValue("c", changeId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<List<uint>> PendingAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT source_oid FROM pgshift.stream_new_tables WHERE task = @t ORDER BY change_id, source_oid", target);
        cmd.Parameters.AddWithValue("t", task);
        var list = new List<uint>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(rd.GetFieldValue<uint>(0));
        }
        return list;
    }

    public static async Task RemovePendingAsync(NpgsqlConnection target, string task, uint oid, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("DELETE FROM pgshift.stream_new_tables WHERE task = @t AND source_oid = @o", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("o", NpgsqlTypes.NpgsqlDbType.Oid, oid);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
