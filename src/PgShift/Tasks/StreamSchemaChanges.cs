using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.Replication;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;

namespace PgShift.Tasks;

/// <summary>
/// How the stream follows the source's schema changes: the schema stage writes the target's statements, and a table
/// that joins the task mid-stream (created, attached under a task table, or rewritten by its change) is brought in as a
/// resumed table is: published, then created on the target as it is at a snapshot of its own, copied from that
/// snapshot (whose position becomes its sync LSN), then given its keys, indexes and triggers.
/// </summary>
internal sealed class StreamSchemaChanges(TaskSettings settings, ILogger logger) : ISchemaChangeFollower
{
    private readonly SchemaChangeStatements _statements = new(settings.Selection, settings.Mapping, settings.ExcludedColumns);

    public SchemaChangePlan Plan(CapturedSchemaChange change, Func<QualifiedName, bool> isTaskTable, Func<QualifiedName, bool> applies)
        => _statements.Plan(change, isTaskTable, applies);

    public Task<StreamTable> ReshapeAsync(StreamTable table, CapturedTable after, NpgsqlConnection target, CancellationToken ct)
    {
        var equality = table.Columns.GroupBy(c => c.TypeOid).ToDictionary(g => g.Key, g => g.First().HasEquality);
        var columns = after.StreamedColumns.Select(c => (c.Name, c.TypeOid, equality.GetValueOrDefault(c.TypeOid))).ToList();
        return StreamTable.BuildAsync(target, after.QualifiedName, columns, table.SyncLsn, table.Unlogged, false, settings.Mapping, settings.ExcludedColumns, ct);
    }

    public async Task<IReadOnlyList<StreamTable>> BringInAsync(uint oid, CapturedTable? current, CancellationToken ct)
    {
        var task = settings.TaskName;
        await using var target = await ConnectionOpener.OpenAsync(settings.Target, "pgshift schema change", ct);
        await using var source = await ConnectionOpener.OpenAsync(settings.Source, "pgshift schema change", ct);
        var selected = await SelectedTables.LoadAsync(source, settings.Selection, ct);
        if (!selected.Tables.TryGetValue(oid, out var name))
        {
            logger.LogInformation("A table created or attached on the source (oid {Oid}) is gone, or not selected by task {Task}", oid, task);
            await SchemaChangeState.RemovePendingAsync(target, task, oid, ct);
            return [];
        }
        // Leaf tables are published (sources before 13 cannot publish a partitioned table); unlogged ones are not decoded.
        await using (var publish = new NpgsqlCommand("""
            SELECT c.relkind = 'r' AND c.relpersistence = 'p'
               AND NOT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid WHERE p.pubname = @p AND pr.prrelid = c.oid)
            FROM pg_class c WHERE c.oid = @o
            """, source))
        {
            publish.Parameters.AddWithValue("p", TaskName.PublicationName(task));
            publish.Parameters.AddWithValue("o", NpgsqlTypes.NpgsqlDbType.Oid, oid);
            if (await publish.ExecuteScalarAsync(ct) is true)
            {
                await using var add = new NpgsqlCommand($"ALTER PUBLICATION {Sql.Ident(TaskName.PublicationName(task))} ADD TABLE ONLY {name}", source);
                await add.ExecuteNonQueryAsync(ct);
            }
        }
        // Taken after the table is published: every change after its position reaches the stream, every one before is in the copy.
        await using var snapshot = await ExportedSnapshot.FromNewSlotAsync(settings.Source, TaskName.TemporarySlotName(task, "new"), temporary: true, ct);
        CapturedTable? shape;
        List<TableCopyPlan> plans;
        await using (var reader = await ConnectionOpener.OpenAsync(settings.Source, "pgshift schema change", ct))
        {
            await ExportedSnapshot.ImportAsync(reader, snapshot.Name, ct);
            var json = await SchemaCapture.ShapeAsync(reader, task, oid, ct);
            shape = json is null ? null : System.Text.Json.JsonSerializer.Deserialize<CapturedTable>(json, CapturedSchemaChange.JsonOptions);
            plans = shape is null || shape.Kind != "r" ? [] : await CopyPlanner.PlanAsync(reader, [oid], settings.Mapping, settings.ExcludedColumns, long.MaxValue, ct);
        }
        if (shape is null)
        {
            await SchemaChangeState.RemovePendingAsync(target, task, oid, ct);
            return [];
        }
        // A task table copied again takes the shape it has at the snapshot: the changes before it are in the copy.
        foreach (var sql in current is null ? _statements.CreateTable(shape) : _statements.Alter(current, shape))
        {
            await ExecuteAsync(target, sql, ct);
        }
        foreach (var plan in plans)
        {
            await CopyState.RecopyAsync(target, task, [plan.SourceKey], ct);
            await CopyState.RegisterAsync(target, task, [new PlannedTable(plan.SourceKey, plan.Target.ToString(), plan.EstimatedBytes, plan.EstimatedRows, plan.StreamColumns)], ct);
            await using var copySource = await ConnectionOpener.OpenAsync(settings.Source, "pgshift copy", ct);
            var copied = await new TableCopier(copySource, target, task).CopyAsync(new CopyUnit(plan, null, 0), snapshot.Name, snapshot.Lsn, wholeTable: true,
                new TableProgress(plan.Source, plan.EstimatedBytes, plan.EstimatedRows), ct)
                ?? throw new PgShiftException($"Table {plan.Source} was truncated or rewritten on the source while it joined the task.", "Run 'pgshift migrate' again: it copies the table again.");
            logger.LogInformation("Table {Table} joined task {Task}: {Rows} rows copied at {Lsn}", plan.Source, task, copied.Rows, snapshot.Lsn);
        }
        foreach (var sql in _statements.PostData(shape))
        {
            await ExecuteAsync(target, sql, ct);
        }
        await SchemaChangeState.RemovePendingAsync(target, task, oid, ct);
        if (plans.Count == 0)
        {
            return [];
        }
        var tables = await StreamTable.LoadAsync(source, target, task, settings.Mapping, settings.ExcludedColumns, ct);
        return plans.Select(p => p.Source).Where(tables.ContainsKey).Select(n => tables[n]).ToList();
    }

    private static async Task ExecuteAsync(NpgsqlConnection target, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, target);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
