namespace PgShift.Precheck;

/// <summary>source.wal_level: logical decoding needs wal_level = logical.</summary>
public sealed class WalLevelCheck : IPrecheck
{
    public const string Fix =
        "Set wal_level = logical and restart the source (ALTER SYSTEM SET wal_level = logical; then restart). " +
        "On Amazon RDS and Aurora set rds.logical_replication = 1 in the DB parameter group and reboot; " +
        "on Google Cloud SQL set the flag cloudsql.logical_decoding = on; on Azure set azure.replication_support = logical.";

    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!c.Incremental)
        {
            return Task.FromResult<IEnumerable<CheckResult>>([CheckResult.Pass("source.wal_level", $"wal_level = {c.SourceFacts.WalLevel}; not needed without incremental migration.")]);
        }
        CheckResult r = c.SourceFacts.WalLevel == "logical"
            ? CheckResult.Pass("source.wal_level", "wal_level = logical.")
            : CheckResult.Fail("source.wal_level", $"Source has wal_level = {c.SourceFacts.WalLevel}; the change stream needs logical.",
                c.SourceFacts.IsRds ? "On Amazon RDS and Aurora set rds.logical_replication = 1 in the DB parameter group and reboot the instance." : Fix);
        return Task.FromResult<IEnumerable<CheckResult>>([r]);
    }
}
