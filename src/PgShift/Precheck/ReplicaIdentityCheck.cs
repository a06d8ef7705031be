using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.replica_identity: UPDATE and DELETE reach the target only for tables whose rows the change
/// stream can identify. A unique index alone is not enough: the default identity uses the primary key only.
/// </summary>
public sealed class ReplicaIdentityCheck : IPrecheck
{
    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!c.Incremental)
        {
            return Task.FromResult<IEnumerable<CheckResult>>([CheckResult.Pass("source.replica_identity", "Not needed without incremental migration.")]);
        }
        var full = new List<string>();
        var missing = new List<(string Table, string Fix)>();
        foreach (var t in c.DataTables)
        {
            switch (t.ReplicaIdentity)
            {
                case 'd' when t.HasPrimaryKey:
                case 'i':
                    break;
                case 'f':
                    full.Add(t.Name.ToString());
                    break;
                default:
                    missing.Add((t.Name.ToString(), FixFor(t)));
                    break;
            }
        }
        var results = new List<CheckResult>();
        if (missing.Count > 0)
        {
            results.Add(CheckResult.Fail("source.replica_identity",
                $"{Plural.Of(missing.Count, "table")} {(missing.Count == 1 ? "has" : "have")} no usable replica identity, so {(missing.Count == 1 ? "its" : "their")} UPDATEs and DELETEs cannot be replicated: {NameList.Of(missing.Select(m => m.Table))}.",
                string.Join(" ", missing.Select(m => m.Fix))));
        }
        if (full.Count > 0)
        {
            results.Add(CheckResult.Warn("source.replica_identity",
                $"{Plural.Of(full.Count, "table")} {(full.Count == 1 ? "uses" : "use")} REPLICA IDENTITY FULL: {NameList.Of(full)}. Their UPDATEs and DELETEs are applied by comparing every column, which is slower; identical rows are told apart by applying each change to one of them.",
                "Add a primary key where the data has one."));
        }
        if (results.Count == 0)
        {
            results.Add(CheckResult.Pass("source.replica_identity", $"{(c.DataTables.Count() == 1 ? "The 1 table has" : $"All {c.DataTables.Count()} tables have")} a primary key or a replica identity index."));
        }
        return Task.FromResult<IEnumerable<CheckResult>>(results);
    }

    private static string FixFor(TableFacts t)
    {
        if (t.ReplicaIdentity == 'n' && t.HasPrimaryKey)
        {
            return $"ALTER TABLE {t.Name} REPLICA IDENTITY DEFAULT;";
        }
        if (t.UniqueNotNullIndex is { } index)
        {
            return $"ALTER TABLE {t.Name} REPLICA IDENTITY USING INDEX {Sql.Ident(index)};";
        }
        return $"ALTER TABLE {t.Name} ADD PRIMARY KEY (...); or ALTER TABLE {t.Name} REPLICA IDENTITY FULL;";
    }
}
