using PgShift.Replication;

namespace PgShift.Precheck;

/// <summary>
/// source.schema_changes: whether the task can capture the source's schema changes (event triggers need a superuser,
/// on Amazon RDS a member of rds_superuser), so that a deploy during the migration window (ALTER TABLE, a new table or
/// partition) is followed instead of stopping the task; and capture objects that an earlier task left on the source.
/// </summary>
public sealed class SchemaCaptureCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!c.Incremental || c.WayBack)
        {
            return [CheckResult.Pass("source.schema_changes", "No change stream on this side: schema changes need not be captured.")];
        }
        var results = new List<CheckResult>();
        var (possible, whyNot) = await SchemaCapture.PossibleAsync(c.Source, ct);
        results.Add(possible
            ? CheckResult.Pass("source.schema_changes", "Schema changes on the source (ALTER TABLE, new tables and partitions, views, functions, enum labels) are captured and followed by the stream.")
            : CheckResult.Warn("source.schema_changes",
                $"Schema changes on the source cannot be captured: {whyNot}. The task runs, but a column change on the source stops it, and tables created after its start are not streamed.",
                "Run the task as a superuser of the source (on Amazon RDS or Aurora, a member of rds_superuser), or make no schema change on the source until the cutover."));
        var others = (await SchemaCapture.ObjectsAsync(c.Source, null, ct))
            .Where(o => !(SchemaCapture.TriggerNames(c.TaskName) is var (end, drop) && (o.EndsWith(" " + end, StringComparison.Ordinal) || o.EndsWith(" " + drop, StringComparison.Ordinal)))
                        && !o.EndsWith("." + SchemaCapture.ChangeTable(c.TaskName), StringComparison.Ordinal) && !o.EndsWith("." + SchemaCapture.ShadowTable(c.TaskName), StringComparison.Ordinal))
            .ToList();
        if (others.Count > 0)
        {
            results.Add(CheckResult.Warn("source.capture_leftovers",
                $"The source holds the schema-change capture of another PgShift task ({string.Join(", ", others.Take(6))}{(others.Count > 6 ? ", ..." : "")}): each of its DDL statements is still recorded there.",
                "If that task is over, remove what it left: pgshift cleanup --task <its name> (with the same --source), which lists what it drops."));
        }
        return results;
    }
}
