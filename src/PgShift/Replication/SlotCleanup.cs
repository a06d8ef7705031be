using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Settings;

namespace PgShift.Replication;

/// <summary>What tasks left on the source: PgShift's slots listed, a task's slot and publication dropped.</summary>
public static class SlotCleanup
{
    /// <summary>A replication slot of PgShift's in the source database (name prefix pgshift_) that is not the given task's.</summary>
    public sealed record LeftoverSlot(string Name, bool Active, long RetainedBytes);

    public static async Task<List<LeftoverSlot>> OtherSlotsAsync(ConnectionSpec source, string task, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cleanup", ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT slot_name, active, coalesce(pg_current_wal_lsn() - restart_lsn, 0)::bigint FROM pg_replication_slots
            WHERE slot_name LIKE 'pgshift\_%' AND slot_name <> @s AND NOT temporary AND database = current_database() ORDER BY slot_name
            """, conn);
        cmd.Parameters.AddWithValue("s", TaskName.SlotName(task));
        var list = new List<LeftoverSlot>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(new LeftoverSlot(rd.GetString(0), rd.GetBoolean(1), rd.GetInt64(2)));
        }
        return list;
    }

    /// <summary>Drops a slot of PgShift's by name (and the publication of the same name), unless a process uses it.</summary>
    public static async Task<List<string>> DropSlotAsync(ConnectionSpec source, string slot, CancellationToken ct)
    {
        if (!slot.StartsWith(TaskName.Prefix, StringComparison.Ordinal))
        {
            throw new PgShiftException($"Slot {slot} is not one of PgShift's (their names start with {TaskName.Prefix}).", "Drop other slots with pg_drop_replication_slot yourself.");
        }
        return await CleanupAsync(source, slot[TaskName.Prefix.Length..], ct);
    }

    /// <summary>Drops the task's slot and publication on the source. Refuses while a process still streams from the slot.</summary>
    /// <param name="waitForRelease">How long a slot in use may take to be released first (the walsender of a stream that just ended exits on its own time).</param>
    public static async Task<List<string>> CleanupAsync(ConnectionSpec source, string task, CancellationToken ct, TimeSpan? waitForRelease = null)
    {
        var dropped = new List<string>();
        var slot = TaskName.SlotName(task);
        var publication = TaskName.PublicationName(task);
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cleanup", ct);
        // A fenced source database (cutover --fence) makes transactions read-only by default; these are PgShift's own.
        await using (var writable = new NpgsqlCommand("SET default_transaction_read_only = off", conn))
        {
            await writable.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand("SELECT active FROM pg_replication_slots WHERE slot_name = @s", conn))
        {
            cmd.Parameters.AddWithValue("s", slot);
            var active = await cmd.ExecuteScalarAsync(ct);
            for (var deadline = DateTime.UtcNow + (waitForRelease ?? TimeSpan.Zero); active is true && DateTime.UtcNow < deadline;)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
                active = await cmd.ExecuteScalarAsync(ct);
            }
            if (active is true)
            {
                throw new PgShiftException($"The slot {slot} is in use by a running process.", $"Stop the task first (pgshift stop --task {task}), then run cleanup again.");
            }
            if (active is false)
            {
                await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot(@s)", conn);
                drop.Parameters.AddWithValue("s", slot);
                await drop.ExecuteNonQueryAsync(ct);
                dropped.Add($"replication slot {slot}");
            }
        }
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM pg_publication WHERE pubname = @p", conn))
        {
            cmd.Parameters.AddWithValue("p", publication);
            if ((long)(await cmd.ExecuteScalarAsync(ct))! > 0)
            {
                await using var drop = new NpgsqlCommand($"DROP PUBLICATION {Sql.Ident(publication)}", conn);
                await drop.ExecuteNonQueryAsync(ct);
                dropped.Add($"publication {publication}");
            }
        }
        // The capture of schema changes: its event triggers, tables and functions.
        dropped.AddRange(await SchemaCapture.DropAsync(conn, task, ct));
        return dropped;
    }
}
