using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Row-level security: the policies of the tables read, and their ENABLE and FORCE ROW LEVEL SECURITY. Policies are
/// created before the data (they do nothing until their table enables row security), under source names, so renames
/// follow them. Enabling waits for the data: the copy (COPY FROM refuses a table whose policies apply to its user) and
/// the stream's changes must write every row. ENABLE leaves the owner that created the table unaffected; FORCE binds
/// the owner too, so it waits for the cutover when the stream follows (as on the source, a superuser or a BYPASSRLS
/// role is never bound).
/// </summary>
internal sealed class PolicyReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public const string ForceRowSecurity = " FORCE ROW LEVEL SECURITY";

    private sealed record Policy(uint Oid, SchemaObject Table, string Name, bool Permissive, char Command, string[] Roles,
        string? Using, string? WithCheck, string? Comment)
    {
        public string Display => $"policy {Sql.Ident(Name)} on {Sql.Qualified(Table.Schema, Table.Name)}";
    }

    public async Task ReadPoliciesAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT oid, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relrowsecurity OR relforcerowsecurity
            """, r =>
        {
            if (Objects.TryGetValue($"rel:{r.GetFieldValue<uint>(0)}", out var t) && t.Kind == ObjectKind.Table)
            {
                var name = Sql.Qualified(t.Schema, t.Name);
                if (r.GetBoolean(1))
                {
                    t.AfterData.Add((PostDataKind.Other, "row level security", $"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"));
                }
                if (r.GetBoolean(2))
                {
                    t.AfterData.Add((PostDataKind.Other, "row level security", $"ALTER TABLE {name}{ForceRowSecurity}"));
                }
            }
        }, ct);

        var policies = new List<Policy>();
        await QueryAsync("""
            SELECT p.oid, p.polrelid, p.polname, p.polpermissive, p.polcmd::text,
                   ARRAY(SELECT coalesce(r.rolname, 'PUBLIC') FROM unnest(p.polroles) WITH ORDINALITY u(oid, i)
                         LEFT JOIN pg_roles r ON r.oid = u.oid ORDER BY u.i),
                   pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), obj_description(p.oid, 'pg_policy')
            FROM pg_policy p ORDER BY p.polrelid, p.polname
            """, r =>
        {
            if (Objects.TryGetValue($"rel:{r.GetFieldValue<uint>(1)}", out var t) && t.Kind == ObjectKind.Table)
            {
                policies.Add(new Policy(r.GetFieldValue<uint>(0), t, r.GetString(2), r.GetBoolean(3), r.GetString(4)[0], r.GetFieldValue<string[]>(5),
                    r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8)));
            }
        }, ct);
        var unmet = await UnmetDependenciesAsync(ct);
        foreach (var p in policies)
        {
            if (unmet.TryGetValue(p.Oid, out var reason))
            {
                var skipped = new SchemaObject($"pol:{p.Oid}", ObjectKind.Policy, p.Table.Schema, p.Name, p.Display) { SkipReason = reason };
                Read.Skipped.Add(skipped);
                continue;
            }
            var roles = p.Roles.Where(r => r != RoleStatement.Public).ToList();
            Read.RoleStatements.Add(new RoleStatement(p.Table, p.Display, roles, present => Statements(p, present)));
        }
    }

    /// <summary>CREATE POLICY and its comment, for the roles the target has; none when every role it names is missing (it would then apply to everyone).</summary>
    private static IReadOnlyList<string> Statements(Policy p, IReadOnlyList<string> present)
    {
        var publicToo = p.Roles.Contains(RoleStatement.Public);
        if (!publicToo && present.Count == 0)
        {
            return [];
        }
        var table = Sql.Qualified(p.Table.Schema, p.Table.Name);
        var sql = new System.Text.StringBuilder($"CREATE POLICY {Sql.Ident(p.Name)} ON {table}");
        sql.Append(p.Permissive ? " AS PERMISSIVE" : " AS RESTRICTIVE");
        sql.Append(p.Command switch { 'r' => " FOR SELECT", 'a' => " FOR INSERT", 'w' => " FOR UPDATE", 'd' => " FOR DELETE", _ => " FOR ALL" });
        var to = (publicToo ? [RoleStatement.Public] : Array.Empty<string>()).Concat(present.Select(Sql.Ident));
        sql.Append(" TO ").Append(string.Join(", ", to));
        if (p.Using is not null)
        {
            sql.Append(" USING (").Append(p.Using).Append(')');
        }
        if (p.WithCheck is not null)
        {
            sql.Append(" WITH CHECK (").Append(p.WithCheck).Append(')');
        }
        var statements = new List<string> { sql.ToString() };
        if (p.Comment is not null)
        {
            statements.Add($"COMMENT ON POLICY {Sql.Ident(p.Name)} ON {table} IS {Sql.Literal(p.Comment)}");
        }
        return statements;
    }

    /// <summary>Policies whose expressions use a relation not selected, a column excluded, or an object not migrated: why, by policy.</summary>
    private async Task<Dictionary<uint, string>> UnmetDependenciesAsync(CancellationToken ct)
    {
        var unmet = new Dictionary<uint, string>();
        await QueryAsync("""
            SELECT d.objid, d.refclassid::regclass::text, d.refobjid, d.refobjsubid,
                   CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                        THEN (SELECT attname::text FROM pg_attribute WHERE attrelid = d.refobjid AND attnum = d.refobjsubid) END
            FROM pg_depend d WHERE d.classid = 'pg_policy'::regclass AND d.deptype = 'n'
            """, r =>
        {
            var refOid = r.GetFieldValue<uint>(2);
            var key = r.GetString(1) switch { "pg_class" => $"rel:{refOid}", "pg_proc" => $"proc:{refOid}", "pg_type" => $"type:{refOid}", _ => null };
            if (key is null)
            {
                return;
            }
            string? reason = null;
            if (Objects.TryGetValue(key, out var dep))
            {
                if (dep.SkipReason is not null)
                {
                    reason = $"uses {dep.Display}, which is not migrated";
                }
                else if (!r.IsDBNull(4) && Options.ExcludedColumns.Excludes(new QualifiedName(dep.Schema, dep.Name), r.GetString(4)))
                {
                    reason = $"uses column {Sql.Ident(r.GetString(4))} of {dep.Display}, which is excluded";
                }
            }
            else if (key.StartsWith("rel:", StringComparison.Ordinal) && Selected.AllRelations.TryGetValue(refOid, out var rel))
            {
                reason = $"uses relation {rel.Name}, which is not selected";
            }
            if (reason is not null)
            {
                unmet.TryAdd(r.GetFieldValue<uint>(0), reason);
            }
        }, ct);
        return unmet;
    }
}
