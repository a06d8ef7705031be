namespace PgShift.Precheck;

/// <summary>
/// source.unlogged_tables, source.large_objects: what will not move, or not through the change stream, said before
/// anything starts (what the schema phase leaves out is Tasks.SkippedObjectsCheck's, source.unsupported_objects).
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

            var largeObjects = await c.QuerySourceAsync("SELECT count(*) FROM pg_largeobject_metadata", r => r.GetInt64(0), ct);
            results.Add(largeObjects[0] == 0
                ? CheckResult.Pass("source.large_objects", "No large objects.")
                : CheckResult.Warn("source.large_objects",
                    $"The source holds {largeObjects[0]} large objects (pg_largeobject); logical decoding does not carry them and PgShift does not migrate them.",
                    "Move them separately (for example with pg_dump --large-objects), or store them in bytea columns."));
        }
        return results;
    }
}
