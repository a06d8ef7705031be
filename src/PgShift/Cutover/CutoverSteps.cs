using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;
using PgShift.LargeObjects;
using PgShift.Replication;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Cutover;

/// <summary>
/// The cutover's own steps around the last copy and post-data (which the task runs): which tables to copy again
/// (unlogged ones write no WAL), and which tables were created or dropped on the source since the task started.
/// </summary>
public sealed class CutoverSteps(ILogger logger)
{
    /// <summary>
    /// Before the last copy: marks the unlogged tables for copying again (they write no WAL, so their rows since the
    /// copy reach the target only that way), and returns the selected tables created on the source since the task started.
    /// </summary>
    public async Task<List<Catalog.QualifiedName>> PrepareAsync(TaskSettings options, CancellationToken ct)
    {
        await using (var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct))
        {
            foreach (var table in await CopyState.RecopyAsync(target, options.TaskName, await UnloggedTablesAsync(options, ct), ct))
            {
                logger.LogInformation("Copying the unlogged table {Table} again", table);
            }
        }
        return await NewTablesAsync(options, ct);
    }

    /// <summary>
    /// Once the stream has caught up with writes stopped: the large objects made equal to the source's, as logical decoding
    /// carries none of their changes. Those created since the copy are copied, those changed (size, then digest) are
    /// replaced, those unlinked are unlinked, and owners, privileges and comments are set again where they differ.
    /// </summary>
    /// <returns>The warnings: roles the target lacks.</returns>
    public async Task<IReadOnlyList<string>> SynchroniseLargeObjectsAsync(TaskSettings options, LargeObjectProgress progress, CancellationToken ct)
    {
        // Writes are stopped: any snapshot of the source is the last one; a plain one leaves nothing behind.
        await using var snapshot = await ExportedSnapshot.FromTransactionAsync(options.Source, ct);
        var outcome = await new LargeObjectSync(logger).SynchroniseAsync(new LargeObjectPass(options.Source, options.Target, snapshot.Name, options.Jobs, progress), ct);
        return outcome.Warnings;
    }

    /// <summary>After the last copy and post-data: what the user must know about tables created or dropped on the source meanwhile.</summary>
    public static async Task<List<string>> WarningsAsync(TaskSettings options, IReadOnlySet<string> known, IEnumerable<Catalog.QualifiedName> newTables, CancellationToken ct)
    {
        var warnings = new List<string>();
        foreach (var table in await DroppedTablesAsync(options, known, ct))
        {
            warnings.Add($"Table {table} was dropped on the source after the task started: the target keeps it, with the changes made before the drop. " +
                "Drop it on the target too if the application no longer uses it.");
        }
        foreach (var table in newTables)
        {
            warnings.Add($"Table {table} was created on the source after the task started: the change stream did not carry it and it is not on the target. " +
                $"Migrate it with its own task, e.g. pgshift migrate --types schema,full --include-table {table.Schema}.{table.Name} --task <another name>.");
        }
        return warnings;
    }

    /// <summary>Selected source tables that the task never copied: created after it started.</summary>
    private static async Task<List<Catalog.QualifiedName>> NewTablesAsync(TaskSettings options, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift cutover", ct);
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct);
        var known = await CopyState.KnownAsync(target, options.TaskName, ct);
        var selected = await SelectedTables.LoadAsync(source, options.Selection, ct);
        var leaves = new List<Catalog.QualifiedName>();
        await using (var cmd = new NpgsqlCommand("SELECT oid FROM pg_class WHERE oid = ANY(@oids) AND relkind = 'r'", source))
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid) { Value = selected.Tables.Keys.ToArray() });
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                leaves.Add(selected.Tables[rd.GetFieldValue<uint>(0)]);
            }
        }
        return leaves.Where(t => !known.Contains(t.ToString())).ToList();
    }

    /// <summary>Tables the task copied (<paramref name="known"/>) that no longer exist on the source.</summary>
    private static async Task<List<string>> DroppedTablesAsync(TaskSettings options, IReadOnlySet<string> known, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift cutover", ct);
        await using var cmd = new NpgsqlCommand("SELECT t FROM unnest(@known::text[]) t WHERE to_regclass(t) IS NULL ORDER BY t", source);
        cmd.Parameters.AddWithValue("known", known.ToArray());
        var list = new List<string>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(rd.GetString(0));
        }
        return list;
    }

    private static async Task<List<string>> UnloggedTablesAsync(TaskSettings options, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift cutover", ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relpersistence = 'u' AND c.relkind = 'r'
            """, source);
        var list = new List<string>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            // copy_tables keys are PgShift's always-quoted names.
            list.Add(Catalog.Sql.Qualified(rd.GetString(0), rd.GetString(1)));
        }
        return list;
    }
}
