using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Privileges changed on the server's own objects in pg_catalog (a function revoked from PUBLIC, a catalog column
/// granted to a role): what differs from the privileges initdb gave them (pg_init_privs), as pg_dump decides, given
/// again on the target where it has the object. Granting there needs a superuser: without one it is a warning.
/// </summary>
internal sealed class SystemPrivilegeReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    private sealed record Change(string Kind, string Name, string? Column, string Guard, string Grantee, string Privilege, bool Grantable, bool Grant);

    public async Task ReadSystemPrivilegesAsync(CancellationToken ct)
    {
        var changes = new List<Change>();
        await QueryAsync("""
            WITH objs AS (
                SELECT 'TABLE' AS kind, format('pg_catalog.%I', c.relname) AS name, NULL::text AS col,
                       format('to_regclass(%L) IS NOT NULL', format('pg_catalog.%I', c.relname)) AS guard,
                       coalesce(c.relacl, acldefault('r', c.relowner)) AS acl, i.initprivs AS init
                  FROM pg_class c LEFT JOIN pg_init_privs i ON i.objoid = c.oid AND i.classoid = 'pg_class'::regclass AND i.objsubid = 0
                 WHERE c.relnamespace = 'pg_catalog'::regnamespace AND i.initprivs IS NOT NULL AND c.relacl IS DISTINCT FROM i.initprivs
                UNION ALL
                SELECT 'TABLE', format('pg_catalog.%I', c.relname), a.attname::text,
                       format('EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%L) AND attname = %L)', format('pg_catalog.%I', c.relname), a.attname),
                       a.attacl, i.initprivs
                  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                  LEFT JOIN pg_init_privs i ON i.objoid = c.oid AND i.classoid = 'pg_class'::regclass AND i.objsubid = a.attnum
                 WHERE c.relnamespace = 'pg_catalog'::regnamespace AND a.attnum > 0 AND a.attacl IS DISTINCT FROM i.initprivs
                UNION ALL
                SELECT 'FUNCTION', p.oid::regprocedure::text, NULL, format('to_regprocedure(%L) IS NOT NULL', p.oid::regprocedure::text),
                       coalesce(p.proacl, acldefault('f', p.proowner)), coalesce(i.initprivs, acldefault('f', p.proowner))
                  FROM pg_proc p LEFT JOIN pg_init_privs i ON i.objoid = p.oid AND i.classoid = 'pg_proc'::regclass AND i.objsubid = 0
                 WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proacl IS DISTINCT FROM i.initprivs AND (p.proacl IS NOT NULL OR i.initprivs IS NOT NULL)
            )
            SELECT o.kind, o.name, o.col, o.guard, coalesce(r.rolname, 'PUBLIC'), d.privilege_type, d.is_grantable, d.grant
              FROM objs o, LATERAL (
                  (SELECT a.grantee, a.privilege_type, a.is_grantable, true AS grant FROM aclexplode(o.acl) a
                   EXCEPT SELECT b.grantee, b.privilege_type, b.is_grantable, true FROM aclexplode(o.init) b)
                  UNION ALL
                  (SELECT b.grantee, b.privilege_type, b.is_grantable, false FROM aclexplode(o.init) b
                   EXCEPT SELECT a.grantee, a.privilege_type, a.is_grantable, false FROM aclexplode(o.acl) a)) d
              LEFT JOIN pg_roles r ON r.oid = d.grantee
             ORDER BY 1, 2, 3, 8, 5, 6
            """, r => changes.Add(new Change(r.GetString(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3), r.GetString(4),
                r.GetString(5), r.GetBoolean(6), r.GetBoolean(7))), ct);
        foreach (var group in changes.GroupBy(c => (c.Kind, c.Name, c.Column, c.Guard)))
        {
            var (kind, name, column, guard) = group.Key;
            var items = group.ToList();
            var display = $"privileges on {kind.ToLowerInvariant()} {name}{(column is null ? "" : $" column {Sql.Ident(column)}")}";
            var roles = items.Select(c => c.Grantee).Where(g => g != RoleStatement.Public).Distinct().ToList();
            Read.RoleStatements.Add(new RoleStatement(null, display, roles, present => Statements(kind, name, column, guard, items, present)));
        }
    }

    /// <summary>The changes to grantees the target has, in one DO block that gives them only where the target has the object (majors differ).</summary>
    private static IReadOnlyList<string> Statements(string kind, string name, string? column, string guard, List<Change> items, IReadOnlyList<string> present)
    {
        var said = items.Where(c => c.Grantee == RoleStatement.Public || present.Contains(c.Grantee)).Select(c =>
        {
            var privilege = column is null ? c.Privilege : $"{c.Privilege} ({Sql.Ident(column)})";
            var to = c.Grantee == RoleStatement.Public ? "PUBLIC" : Sql.Ident(c.Grantee);
            return c.Grant
                ? $"GRANT {privilege} ON {kind} {name} TO {to}{(c.Grantable ? " WITH GRANT OPTION" : "")};"
                : $"REVOKE {privilege} ON {kind} {name} FROM {to};";
        }).ToList();
        if (said.Count == 0)
        {
            return [];
        }
        var body = string.Join(" ", said).Replace("$pgshift$", "", StringComparison.Ordinal);
        return [$"DO $pgshift$ BEGIN IF {guard} THEN {body} END IF; END $pgshift$"];
    }
}
