using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Precheck;

/// <summary>
/// target.conflicts: selected tables whose names are taken on the target (unless this same task created
/// them in an earlier run); source.state_schema_name: a source schema named like PgShift's state schema.
/// </summary>
public sealed class TargetConflictCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var stateSchema = TableSelection.StateSchemaName;
        var sourceHasState = await c.QuerySourceAsync($"SELECT count(*) FROM pg_namespace WHERE nspname = {Sql.Literal(stateSchema)}", r => r.GetInt64(0), ct);
        results.Add(sourceHasState[0] == 0
            ? CheckResult.Pass("source.state_schema_name", $"No source schema is named {stateSchema}.")
            : CheckResult.Warn("source.state_schema_name",
                $"The source has a schema named {stateSchema}, the name of PgShift's state schema on the target; it is not migrated.",
                "Rename that schema on the source (ALTER SCHEMA pgshift RENAME TO ...) if its objects must move."));

        var ownTask = await c.QueryTargetAsync(
            $"""
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = {Sql.Literal(stateSchema)} AND c.relname = 'tasks'
            """, r => r.GetInt64(0), ct);
        if (ownTask[0] > 0)
        {
            var mine = await c.QueryTargetAsync($"SELECT count(*) FROM {Sql.Qualified(stateSchema, "tasks")} WHERE name = {Sql.Literal(c.TaskName)}", r => r.GetInt64(0), ct);
            if (mine[0] > 0)
            {
                results.Add(CheckResult.Pass("target.conflicts", $"The target holds task {c.TaskName}'s objects from an earlier run; the task resumes with them."));
                return results;
            }
        }

        var existing = await c.QueryTargetAsync(
            """
            SELECT n.nspname, c.relname, c.relkind::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            """,
            r => (Name: new QualifiedName(r.GetString(0), r.GetString(1)), Kind: r.GetString(2)), ct);
        var taken = existing.Select(e => e.Name).ToHashSet();
        var conflicts = c.Tables.Where(t => taken.Contains(t.Name)).Select(t => t.Name.ToString()).ToList();
        results.Add(conflicts.Count == 0
            ? CheckResult.Pass("target.conflicts", "No selected table's name is taken on the target.")
            : CheckResult.Fail("target.conflicts",
                $"{conflicts.Count} selected tables already exist on the target: {NameList.Of(conflicts)}.",
                "Drop them on the target, migrate into an empty database, exclude these tables, or map them to other names."));
        return results;
    }
}
