using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.Tasks;

namespace PgShift.Cutover;

/// <summary>
/// What the cutover does once the stream has caught up: copies again what logical decoding cannot carry
/// (unlogged tables), builds what waited for it (foreign keys and triggers when the apply session could not
/// bypass them, ENABLE ALWAYS states), and syncs sequences and refreshes materialized views.
/// </summary>
public sealed class CutoverSteps(ILogger logger)
{
    public async Task<SchemaReport> FinishAsync(MigrationOptions options, CancellationToken ct)
    {
        await using (var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct))
        {
            // Unlogged tables write no WAL: their rows since the copy reach the target only by copying them again.
            await using var cmd = new NpgsqlCommand("""
                UPDATE pgshift.copy_tables SET status = 'pending', rows_copied = 0, bytes_copied = 0
                WHERE task = @t AND source_table = ANY(@unlogged)
                RETURNING source_table
                """, target);
            cmd.Parameters.AddWithValue("t", options.TaskName);
            cmd.Parameters.AddWithValue("unlogged", await UnloggedTablesAsync(options, ct));
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                logger.LogInformation("Copying the unlogged table {Table} again", rd.GetString(0));
            }
        }
        var newTables = await NewTablesAsync(options, ct);
        HashSet<string> known;
        await new FullCopier(logger).RunAsync(options.CopyOptions(incremental: false, knownTablesOnly: true), ct);
        // Post-data again, as for a one-time copy: builds whatever is missing, sets ENABLE ALWAYS triggers,
        // syncs every sequence from the source's last_value, refreshes materialized views, analyzes.
        await using (var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct))
        {
            known = await State.CopyState.KnownAsync(target, options.TaskName, ct);
        }
        var schemaOptions = options.SchemaOptions(streamFollows: false, deferForeignKeysAndTriggers: false);
        var report = await new SchemaMigrator(logger).CreatePostDataAsync(new SchemaMigrationOptions
        {
            Source = schemaOptions.Source, Target = schemaOptions.Target, Selection = schemaOptions.Selection, ExcludedColumns = schemaOptions.ExcludedColumns,
            Mapping = schemaOptions.Mapping, Jobs = schemaOptions.Jobs, TaskName = schemaOptions.TaskName, KnownTables = known,
        }, ct);
        foreach (var table in await DroppedTablesAsync(options, known, ct))
        {
            report.Warnings.Add($"Table {table} was dropped on the source after the task started: the target keeps it, with the changes made before the drop. " +
                "Drop it on the target too if the application no longer uses it.");
        }
        foreach (var table in newTables)
        {
            report.Warnings.Add($"Table {table} was created on the source after the task started: the change stream did not carry it and it is not on the target. " +
                $"Migrate it with its own task, e.g. pgshift migrate --types schema,full --include-table {table.Schema}.{table.Name} --task <another name>.");
        }
        return report;
    }

    /// <summary>Selected source tables that the task never copied: created after it started.</summary>
    private static async Task<List<Catalog.QualifiedName>> NewTablesAsync(MigrationOptions options, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift cutover", ct);
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct);
        var known = new HashSet<string>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT source_table FROM pgshift.copy_tables WHERE task = @t", target))
        {
            cmd.Parameters.AddWithValue("t", options.TaskName);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                known.Add(rd.GetString(0));
            }
        }
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
    private static async Task<List<string>> DroppedTablesAsync(MigrationOptions options, IReadOnlySet<string> known, CancellationToken ct)
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

    private static async Task<string[]> UnloggedTablesAsync(MigrationOptions options, CancellationToken ct)
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
        return list.ToArray();
    }
}
