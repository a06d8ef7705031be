using Npgsql;

namespace PgShift.State;

/// <summary>
/// What the schema phase of a task left out, and why: recorded with the objects it created (in the same transaction),
/// so that the copy, the stream and the verify leave out the same tables, whichever process runs them.
/// </summary>
/// <param name="Object">For a person: <c>table "s"."t"</c>.</param>
/// <param name="Table">For a table, its source name, quoted and qualified (as the copy records tables); otherwise null.</param>
public sealed record SkippedObject(string Object, string Reason, string? Table)
{
    /// <summary>Replaces the task's list with <paramref name="skipped"/>.</summary>
    public static async Task RecordAsync(NpgsqlConnection target, NpgsqlTransaction? tx, string task, IEnumerable<SkippedObject> skipped, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, tx, ct);
        await using (var clear = new NpgsqlCommand("DELETE FROM pgshift.skipped_objects WHERE task = @t", target, tx))
        {
            clear.Parameters.AddWithValue("t", task);
            await clear.ExecuteNonQueryAsync(ct);
        }
        foreach (var s in skipped.DistinctBy(s => s.Object))
        {
            await using var cmd = new NpgsqlCommand("INSERT INTO pgshift.skipped_objects (task, object, reason, source_table) VALUES (@t, @o, @r, @s)", target, tx);
            cmd.Parameters.AddWithValue("t", task);
            cmd.Parameters.AddWithValue("o", s.Object);
            cmd.Parameters.AddWithValue("r", s.Reason);
            cmd.Parameters.AddWithValue("s", (object?)s.Table ?? DBNull.Value);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>What the task's schema phase left out; empty when it has not run (or the task has no state yet).</summary>
    public static async Task<List<SkippedObject>> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        var list = new List<SkippedObject>();
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('pgshift.skipped_objects') IS NOT NULL", target))
        {
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
            {
                return list;
            }
        }
        await using var cmd = new NpgsqlCommand("SELECT object, reason, source_table FROM pgshift.skipped_objects WHERE task = @t ORDER BY object", target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(new SkippedObject(rd.GetString(0), rd.GetString(1), rd.IsDBNull(2) ? null : rd.GetString(2)));
        }
        return list;
    }
}
