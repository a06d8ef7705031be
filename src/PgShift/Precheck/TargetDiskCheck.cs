namespace PgShift.Precheck;

/// <summary>target.staging_disk: where the changes read during the copy are kept, and what that costs on the target's disk.</summary>
public sealed class TargetDiskCheck : IPrecheck
{
    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        IEnumerable<CheckResult> results = c.Incremental
            ? [CheckResult.Pass("target.staging_disk",
                $"While the tables copy, the changes written on the source are read from the slot and staged on the target (table pgshift.staged_changes in database {c.TargetFacts.Database}), " +
                "so the source can recycle its WAL. They take about as much disk on the target as the source's WAL of the same period " +
                "(roughly the rows written meanwhile, in text form); they are deleted as they are applied. 'pgshift status' shows their size.")]
            : [];
        return Task.FromResult(results);
    }
}
