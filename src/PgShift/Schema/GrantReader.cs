using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Privileges granted on the objects read (granted on the target when the roles exist there).</summary>
internal sealed class GrantReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    private readonly HashSet<string> _revokedFromPublic = new(StringComparer.Ordinal);

    public async Task ReadGrantsAsync(CancellationToken ct)
    {
        // Every entry of every non-default ACL, the owner's included (to see that the ACL was changed at all); the public
        // schema's only when changed from initdb's, else the target's defaults (which differ between majors) stay.
        var procKind = SourceMajor >= 11 ? "CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END" : "'FUNCTION'";
        await QueryAsync($"""
            SELECT 'rel:' || c.oid, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = c.relowner, NULL::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
            LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE c.relacl IS NOT NULL AND {UserSchemas}
            UNION ALL
            SELECT 'rel:' || c.oid, 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, false, att.attname::text
            FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(att.attacl) a
            LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND {UserSchemas}
            UNION ALL
            SELECT 'ns:' || n.oid, 'SCHEMA', quote_ident(n.nspname), coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = n.nspowner, NULL
            FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE n.nspacl IS NOT NULL AND n.nspname <> 'public' AND {UserSchemas}
            UNION ALL
            -- The public schema's ACL only when it was changed from what initdb gave it (as pg_dump decides).
            SELECT 'ns:' || n.oid, 'SCHEMA', 'public', coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = n.nspowner, NULL
            FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE n.nspname = 'public' AND n.nspacl IS DISTINCT FROM
                  (SELECT i.initprivs FROM pg_init_privs i WHERE i.objoid = n.oid AND i.classoid = 'pg_namespace'::regclass AND i.objsubid = 0)
            UNION ALL
            SELECT 'proc:' || p.oid, {procKind}, p.oid::regprocedure::text,
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = p.proowner, NULL
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE p.proacl IS NOT NULL AND {UserSchemas}
            UNION ALL
            SELECT CASE WHEN t.typrelid <> 0 THEN 'rel:' || t.typrelid ELSE 'type:' || t.oid END, CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                   quote_ident(n.nspname) || '.' || quote_ident(t.typname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = t.typowner, NULL
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, aclexplode(t.typacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE t.typacl IS NOT NULL AND {UserSchemas}
            """, r =>
        {
            if (!Objects.TryGetValue(r.GetString(0), out var o))
            {
                return;
            }
            var kind = r.GetString(1);
            var name = NameOn(o, r.GetString(2));
            var column = r.IsDBNull(7) ? null : r.GetString(7);
            if (column is not null && Options.ExcludedColumns.Excludes(new QualifiedName(o.Schema, o.Name), column))
            {
                return;
            }
            // Functions and types grant USAGE/EXECUTE to PUBLIC by default, and so does the public schema (CREATE too
            // before PostgreSQL 15): a changed ACL starts from none, as on the source.
            if ((kind is "FUNCTION" or "PROCEDURE" or "TYPE" or "DOMAIN" || kind == "SCHEMA" && name == "public") && _revokedFromPublic.Add(o.Key))
            {
                Read.Grants.Add((o, "PUBLIC", $"REVOKE ALL ON {kind} {name} FROM PUBLIC"));
            }
            if (r.GetBoolean(6))
            {
                return;
            }
            var grantee = r.GetString(3);
            var to = grantee == "PUBLIC" ? "PUBLIC" : Sql.Ident(grantee);
            var what = column is null ? r.GetString(4) : $"{r.GetString(4)} ({Sql.Ident(column)})";
            Read.Grants.Add((o, grantee, $"GRANT {what} ON {kind} {name} TO {to}{(r.GetBoolean(5) ? " WITH GRANT OPTION" : "")}"));
        }, ct);
        if (Options.Owners)
        {
            await ReadOwnersRevokedAsync(procKind, ct);
        }
    }

    /// <summary>
    /// What owners revoked from themselves (REVOKE DELETE ON t FROM its owner): what the ACL's owner entry lacks of the
    /// kind's defaults, revoked on the target once the object has its owner (the grants run after the owners).
    /// </summary>
    private async Task ReadOwnersRevokedAsync(string procKind, CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT x.key, x.kind, x.name, pg_get_userbyid(x.owner),
                   ARRAY(SELECT d.privilege_type FROM aclexplode(acldefault(x.objtype, x.owner)) d
                         WHERE NOT EXISTS (SELECT 1 FROM aclexplode(x.acl) a WHERE a.grantee = x.owner AND a.privilege_type = d.privilege_type)
                         ORDER BY 1)
            FROM (
                SELECT 'rel:' || c.oid AS key, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, c.relowner AS owner, c.relacl AS acl,
                       (CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char" AS objtype
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND {UserSchemas}
                UNION ALL
                SELECT 'ns:' || n.oid, 'SCHEMA', quote_ident(n.nspname), n.nspowner, n.nspacl, 'n'::"char"
                FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND {UserSchemas}
                UNION ALL
                SELECT 'proc:' || p.oid, {procKind}, p.oid::regprocedure::text, p.proowner, p.proacl, 'f'::"char"
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND {UserSchemas}
                UNION ALL
                SELECT CASE WHEN t.typrelid <> 0 THEN 'rel:' || t.typrelid ELSE 'type:' || t.oid END, CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                       quote_ident(n.nspname) || '.' || quote_ident(t.typname), t.typowner, t.typacl, 'T'::"char"
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typacl IS NOT NULL AND {UserSchemas}
            ) x
            """, r =>
        {
            var missing = r.GetFieldValue<string[]>(4);
            if (missing.Length > 0 && Objects.TryGetValue(r.GetString(0), out var o))
            {
                Read.Grants.Add((o, r.GetString(3), $"REVOKE {string.Join(", ", missing)} ON {r.GetString(1)} {NameOn(o, r.GetString(2))} FROM {Sql.Ident(r.GetString(3))}"));
            }
        }, ct);
    }

    /// <summary>The object's name after GRANT ... ON KIND: an aggregate's is the signature it has on the target (see RoutineReader.ToAnyCompatible).</summary>
    private static string NameOn(SchemaObject o, string sourceName)
        => o.Kind == ObjectKind.Aggregate && o.AlterTarget is { } agg && !agg.EndsWith("(*)", StringComparison.Ordinal)
            ? agg["AGGREGATE ".Length..]
            : sourceName;
}
