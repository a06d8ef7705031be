namespace PgShift.Precheck;

/// <summary>source.version, target.version: supported majors, and what older sources cannot do.</summary>
public sealed class VersionCheck : IPrecheck
{
    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var s = c.SourceFacts;
        var t = c.TargetFacts;
        if (s.Major < 10)
        {
            results.Add(CheckResult.Fail("source.version", $"Source runs PostgreSQL {s.Version}; logical replication with pgoutput needs 10 or newer.",
                "Upgrade the source to PostgreSQL 10 or newer, or migrate with pg_dump/pg_restore during a downtime window."));
        }
        else if (s.Major < 11)
        {
            results.Add(CheckResult.Warn("source.version", $"Source runs PostgreSQL {s.Version}: TRUNCATE is not carried by the change stream before 11.",
                "Avoid TRUNCATE on the source during the migration, or upgrade the source to 11 or newer."));
        }
        else if (s.Major < 13)
        {
            results.Add(CheckResult.Warn("source.version", $"Source runs PostgreSQL {s.Version}: partitioned tables cannot be published before 13, so their leaf partitions are published one by one; max_slot_wal_keep_size does not exist yet.",
                "Nothing to do; adding partitions during the migration needs a restart of the task."));
        }
        else
        {
            results.Add(CheckResult.Pass("source.version", $"Source runs PostgreSQL {s.Version}."));
        }

        if (t.Major < s.Major)
        {
            results.Add(CheckResult.Fail("target.version", $"Target runs PostgreSQL {t.Version}, older than the source's {s.Version}.",
                $"Use a target of PostgreSQL {s.Major} or newer: objects and syntax of a newer major do not load into an older one."));
        }
        else
        {
            results.Add(CheckResult.Pass("target.version", $"Target runs PostgreSQL {t.Version} (source {s.Major})."));
        }
        return Task.FromResult<IEnumerable<CheckResult>>(results);
    }
}
