namespace PgShift.Precheck;

/// <summary>
/// source.unsupported_objects, source.unlogged_tables: what will not move, or not through the change stream, said
/// before anything starts (large objects: <see cref="LargeObjectCheck"/>).
/// </summary>
public sealed class UnsupportedObjectsCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var cFunctions = await c.QuerySourceAsync(
            """
            SELECT n.nspname, p.oid::regprocedure::text
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE l.lanname = 'c' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
            ORDER BY 2
            """,
            r => (Schema: r.GetString(0), Signature: r.GetString(1)), ct);
        var selected = cFunctions.Where(f => c.Selection.IncludesSchema(f.Schema)).Select(f => f.Signature).ToList();
        results.Add(selected.Count == 0
            ? CheckResult.Pass("source.unsupported_objects", "No objects that PgShift does not migrate.")
            : CheckResult.Warn("source.unsupported_objects",
                $"{selected.Count} functions written in C (outside extensions) will not be migrated, nor the objects that depend on them: {NameList.Of(selected)}.",
                "Install the shared library on the target and create these functions there before the migration, or leave them out."));

        if (c.Incremental)
        {
            var unlogged = c.DataTables.Where(t => t.IsUnlogged).Select(t => t.Name.ToString()).ToList();
            results.Add(unlogged.Count == 0
                ? CheckResult.Pass("source.unlogged_tables", "No unlogged tables.")
                : CheckResult.Warn("source.unlogged_tables",
                    $"{unlogged.Count} unlogged tables write no WAL, so the change stream cannot carry their changes: {NameList.Of(unlogged)}. They are copied, and copied again at cutover.",
                    "Make them logged (ALTER TABLE ... SET LOGGED) if their changes must move live."));
        }
        return results;
    }
}
