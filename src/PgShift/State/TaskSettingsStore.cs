using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>
/// The settings a task started with (selection, exclusions, renaming, types, jobs, conflict policy; never a server or
/// a password), kept in its row so that every later command, from any machine, works on the same task.
/// </summary>
public static class TaskSettingsStore
{
    /// <summary>Records the settings of a task whose row has none yet (its first run); a resumed task keeps its own.</summary>
    public static async Task SaveIfNewAsync(NpgsqlConnection target, string task, string settingsJson, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET settings = @s WHERE name = @t AND settings IS NULL", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Jsonb) { Value = settingsJson });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The stored settings, or null when the target has no such task (or one started before settings were stored).</summary>
    public static async Task<string?> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using (var check = new NpgsqlCommand("SELECT to_regclass('pgshift.tasks') IS NOT NULL", target))
        {
            if (await check.ExecuteScalarAsync(ct) is not true)
            {
                return null;
            }
        }
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT settings::text FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }
}
