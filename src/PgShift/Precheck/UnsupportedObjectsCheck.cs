using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.unlogged_tables: what will not move through the change stream, said before anything starts (what the schema
/// phase leaves out is Tasks.SchemaPrecheck's, source.unsupported_objects; large objects: <see cref="LargeObjectCheck"/>).
/// </summary>
public sealed class UnsupportedObjectsCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var results = new List<CheckResult>();
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
