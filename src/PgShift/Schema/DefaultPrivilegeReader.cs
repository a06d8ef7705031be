using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Default privileges (ALTER DEFAULT PRIVILEGES, pg_default_acl), set at the end of the pre-data, once every object
/// exists: set before, they would change the privileges of the objects the task creates. A database-wide entry replaces
/// the built-in defaults, so it is said as revoking those and granting the entry; an entry of a schema adds to them, so
/// it is said as its grants. Entries of schemas not selected are left out.
/// </summary>
internal sealed class DefaultPrivilegeReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    private sealed record Entry(uint Oid, string Role, uint SchemaOid, string? Schema, char ObjectType)
    {
        /// <summary>Grantee (PUBLIC or a role) to privileges and whether with grant option.</summary>
        public List<(string Grantee, string Privilege, bool Grantable)> Items { get; } = new();
    }

    public async Task ReadDefaultPrivilegesAsync(CancellationToken ct)
    {
        var entries = new Dictionary<uint, Entry>();
        await QueryAsync("""
            SELECT d.oid, pg_get_userbyid(d.defaclrole)::text, d.defaclnamespace, n.nspname::text, d.defaclobjtype::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, a.is_grantable
            FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
            LEFT JOIN LATERAL aclexplode(d.defaclacl) a ON true
            ORDER BY d.oid, 6, 7
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!entries.TryGetValue(oid, out var e))
            {
                entries[oid] = e = new Entry(oid, r.GetString(1), r.GetFieldValue<uint>(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4)[0]);
            }
            if (!r.IsDBNull(5))
            {
                e.Items.Add((r.GetString(5), r.GetString(6), r.GetBoolean(7)));
            }
        }, ct);
        foreach (var e in entries.Values)
        {
            if (e.Schema is not null && !SchemaSelected(e.Schema))
            {
                continue;
            }
            var display = $"default privileges for role {Sql.Ident(e.Role)}{(e.Schema is null ? "" : $" in schema {Sql.Ident(e.Schema)}")} on {ObjectTypes(e.ObjectType).ToLowerInvariant()}";
            var minimum = e.ObjectType switch { 'n' => 10, 'L' => 18, _ => 0 };
            if (Options.TargetMajor < minimum)
            {
                Read.Skipped.Add(new SchemaObject($"defacl:{e.Oid}", ObjectKind.DefaultPrivileges, e.Schema ?? "", e.Role, display)
                { SkipReason = $"PostgreSQL {Options.TargetMajor} has no default privileges on {ObjectTypes(e.ObjectType).ToLowerInvariant()}" });
                continue;
            }
            var roles = e.Items.Select(i => i.Grantee).Where(g => g != RoleStatement.Public).Prepend(e.Role).Distinct().ToList();
            Read.RoleStatements.Add(new RoleStatement(e.Schema is null ? null : Objects.GetValueOrDefault($"ns:{e.SchemaOid}"), display, roles,
                present => Statements(e, present)));
        }
    }

    private static string ObjectTypes(char type) => type switch
    {
        'r' => "TABLES",
        'S' => "SEQUENCES",
        'f' => "FUNCTIONS",
        'T' => "TYPES",
        'n' => "SCHEMAS",
        'L' => "LARGE OBJECTS",
        _ => throw new PgShiftException($"Default privileges of unknown object type '{type}' on the source.", "Exclude the schema, or report this with the source's version."),
    };

    /// <summary>The entry's statements, for the roles the target has; none when its role is missing.</summary>
    private static IReadOnlyList<string> Statements(Entry e, IReadOnlyList<string> present)
    {
        if (!present.Contains(e.Role))
        {
            return [];
        }
        var prefix = $"ALTER DEFAULT PRIVILEGES FOR ROLE {Sql.Ident(e.Role)}{(e.Schema is null ? "" : $" IN SCHEMA {Sql.Ident(e.Schema)}")}";
        var on = ObjectTypes(e.ObjectType);
        var statements = new List<string>();
        if (e.Schema is null)
        {
            statements.Add($"{prefix} REVOKE ALL ON {on} FROM PUBLIC");
            statements.Add($"{prefix} REVOKE ALL ON {on} FROM {Sql.Ident(e.Role)}");
        }
        foreach (var g in e.Items.Where(i => i.Grantee == RoleStatement.Public || present.Contains(i.Grantee)).GroupBy(i => (i.Grantee, i.Grantable)))
        {
            var to = g.Key.Grantee == RoleStatement.Public ? RoleStatement.Public : Sql.Ident(g.Key.Grantee);
            statements.Add($"{prefix} GRANT {string.Join(", ", g.Select(i => i.Privilege))} ON {on} TO {to}{(g.Key.Grantable ? " WITH GRANT OPTION" : "")}");
        }
        return statements;
    }
}
