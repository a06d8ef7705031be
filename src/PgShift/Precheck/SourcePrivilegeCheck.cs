using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>source.replication_privilege, source.select_privilege, source.publication_privilege, source.sequence_privilege.</summary>
public sealed class SourcePrivilegeCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var s = c.SourceFacts;
        var user = Sql.Ident(s.CurrentUser);
        var results = new List<CheckResult>();
        if (c.Incremental)
        {
            if (s.IsSuperuser || s.HasReplication || s.IsRdsSuperuser || s.IsRdsReplication)
            {
                var how = s.IsSuperuser ? "superuser" : s.HasReplication ? "REPLICATION attribute" : s.IsRdsReplication ? "member of rds_replication" : "member of rds_superuser";
                results.Add(CheckResult.Pass("source.replication_privilege", $"Source role {s.CurrentUser} can replicate ({how})."));
            }
            else
            {
                results.Add(CheckResult.Fail("source.replication_privilege", $"Source role {s.CurrentUser} cannot open a replication connection.",
                    s.IsRds ? $"On Amazon RDS: GRANT rds_replication TO {user};" : $"ALTER ROLE {user} REPLICATION;"));
            }
        }

        var unreadable = c.Tables.Where(t => !t.CanSelect).Select(t => t.Name.ToString()).ToList();
        results.Add(unreadable.Count == 0
            ? CheckResult.Pass("source.select_privilege", $"Source role {s.CurrentUser} can read all {c.Tables.Count} selected tables.")
            : CheckResult.Fail("source.select_privilege", $"Source role {s.CurrentUser} cannot SELECT {unreadable.Count} selected tables: {NameList.Of(unreadable)}.",
                $"GRANT SELECT ON {NameList.Of(unreadable, 3)} TO {user}; (or GRANT SELECT ON ALL TABLES IN SCHEMA ... TO {user};)"));

        if (c.Incremental)
        {
            var notOwned = c.Tables.Where(t => !t.OwnedByCurrentUser).Select(t => t.Name.ToString()).ToList();
            results.Add(s.IsSuperuser || s.IsRdsSuperuser || notOwned.Count == 0
                ? CheckResult.Pass("source.publication_privilege", $"Source role {s.CurrentUser} can create the task's publication.")
                : CheckResult.Fail("source.publication_privilege",
                    $"Source role {s.CurrentUser} does not own {notOwned.Count} selected tables ({NameList.Of(notOwned)}), so it cannot add them to a publication.",
                    $"Run the task as the tables' owner or a superuser (rds_superuser on Amazon RDS), or GRANT the owning role TO {user};"));
        }

        var sequences = await c.QuerySourceAsync(
            """
            SELECT n.nspname, s.relname, has_sequence_privilege(s.oid, 'SELECT')
            FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
            WHERE s.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            """,
            r => (Name: new QualifiedName(r.GetString(0), r.GetString(1)), CanRead: r.GetBoolean(2)), ct);
        var selectedSequences = sequences.Where(q => c.Selection.IncludesSchema(q.Name.Schema)).ToList();
        var unreadableSeq = selectedSequences.Where(q => !q.CanRead).Select(q => q.Name.ToString()).ToList();
        results.Add(unreadableSeq.Count == 0
            ? CheckResult.Pass("source.sequence_privilege", $"Source role {s.CurrentUser} can read {(selectedSequences.Count == 1 ? "the 1 sequence" : $"all {selectedSequences.Count} sequences")}.")
            : CheckResult.Fail("source.sequence_privilege", $"Source role {s.CurrentUser} cannot read {Plural.Of(unreadableSeq.Count, "sequence")}: {NameList.Of(unreadableSeq)}.",
                $"GRANT SELECT ON SEQUENCE {NameList.Of(unreadableSeq, 3)} TO {user};"));
        return results;
    }
}
