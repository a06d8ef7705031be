using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Foreign-data wrappers and servers not created by an extension, user mappings (never their password), and what a
/// foreign table adds to CREATE FOREIGN TABLE (its server and options, its columns' options), as pg_dump writes them.
/// A foreign table's rows live on its server: the copy, the stream and the verify leave it out (they take ordinary tables only).
/// </summary>
internal sealed class ForeignDataReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : AddressedObjectReader(conn, options, read)
{
    /// <summary>A user mapping's option that holds a secret: never read into a statement, a log or the task's state.</summary>
    private const string PasswordOption = "password";

    public async Task ReadAsync(CancellationToken ct)
    {
        await ReadWrappersAsync(ct);
        await ReadServersAsync(ct);
        await ReadUserMappingsAsync(ct);
        await ReadGrantsAsync(ct);
        await ReadForeignTablesAsync(ct);
    }

    private async Task ReadWrappersAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT w.oid, w.fdwname, CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::regproc::text END,
                   CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::regproc::text END, w.fdwoptions
            FROM pg_foreign_data_wrapper w
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (FromExtension(oid))
            {
                return;
            }
            var name = Sql.Ident(r.GetString(1));
            var o = AddAddressed("pg_foreign_data_wrapper", oid, "fdw", ObjectKind.ForeignDataWrapper, "", r.GetString(1), $"FOREIGN DATA WRAPPER {name}");
            var handler = r.IsDBNull(2) ? "" : $" HANDLER {r.GetString(2)}";
            var validator = r.IsDBNull(3) ? "" : $" VALIDATOR {r.GetString(3)}";
            o.Statements.Add($"CREATE FOREIGN DATA WRAPPER {name}{handler}{validator}{OptionsClause(r.IsDBNull(4) ? null : r.GetFieldValue<string[]>(4))}");
        }, ct);
    }

    private async Task ReadServersAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT s.oid, s.srvname, w.fdwname, s.srvtype, s.srvversion, s.srvoptions
            FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (FromExtension(oid))
            {
                return;
            }
            var name = Sql.Ident(r.GetString(1));
            var o = AddAddressed("pg_foreign_server", oid, "srv", ObjectKind.ForeignServer, "", r.GetString(1), $"SERVER {name}");
            var type = r.IsDBNull(3) ? "" : $" TYPE {Sql.Literal(r.GetString(3))}";
            var version = r.IsDBNull(4) ? "" : $" VERSION {Sql.Literal(r.GetString(4))}";
            var optionList = OptionsClause(r.IsDBNull(5) ? null : r.GetFieldValue<string[]>(5));
            o.Statements.Add($"CREATE SERVER {name}{type}{version} FOREIGN DATA WRAPPER {Sql.Ident(r.GetString(2))}{optionList}");
        }, ct);
    }

    /// <summary>
    /// User mappings, run like grants: only when the role exists on the target. A password is never copied (nor
    /// read): the mapping is created without it, and a warning says to set it again.
    /// </summary>
    private async Task ReadUserMappingsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT m.srvid, CASE WHEN m.umuser = 0 THEN 'PUBLIC' ELSE m.usename END,
                   ARRAY(SELECT o FROM unnest(m.umoptions) o WHERE split_part(o, '=', 1) <> '{PasswordOption}'),
                   EXISTS (SELECT 1 FROM unnest(m.umoptions) o WHERE split_part(o, '=', 1) = '{PasswordOption}')
            FROM pg_user_mappings m
            ORDER BY m.srvname, m.usename
            """, r =>
        {
            if (!Read.Addressed.TryGetValue(("pg_foreign_server", r.GetFieldValue<uint>(0)), out var server) || !Objects.TryGetValue(server.Key, out var o))
            {
                return;
            }
            var role = r.GetString(1);
            var user = role == "PUBLIC" ? "PUBLIC" : Sql.Ident(role);
            Read.Grants.Add((o, role, $"CREATE USER MAPPING FOR {user} {server.Address}{OptionsClause(r.GetFieldValue<string[]>(2))}"));
            if (r.GetBoolean(3))
            {
                Read.Warnings.Add($"The user mapping for {user} on {o.Display} holds a password, which is not migrated: set it again on the target "
                    + $"(ALTER USER MAPPING FOR {user} {server.Address} OPTIONS (ADD password '...')).");
            }
        }, ct);
    }

    /// <summary>USAGE granted on wrappers and servers (other than their owner's own), run like the other grants.</summary>
    private async Task ReadGrantsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT 'pg_foreign_data_wrapper', w.oid, coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable
            FROM pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE a.grantee <> w.fdwowner
            UNION ALL
            SELECT 'pg_foreign_server', s.oid, coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable
            FROM pg_foreign_server s, aclexplode(s.srvacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE a.grantee <> s.srvowner
            """, r =>
        {
            if (!Read.Addressed.TryGetValue((r.GetString(0), r.GetFieldValue<uint>(1)), out var a) || !Objects.TryGetValue(a.Key, out var o))
            {
                return;
            }
            var grantee = r.GetString(2);
            var to = grantee == "PUBLIC" ? "PUBLIC" : Sql.Ident(grantee);
            // GRANT names a server ON FOREIGN SERVER, where COMMENT says SERVER.
            var on = o.Kind == ObjectKind.ForeignServer ? $"FOREIGN {a.Address}" : a.Address;
            Read.Grants.Add((o, grantee, $"GRANT {r.GetString(3)} ON {on} TO {to}{(r.GetBoolean(4) ? " WITH GRANT OPTION" : "")}"));
        }, ct);
    }

    /// <summary>Each foreign table's SERVER clause and its columns' options, for <see cref="TableReader"/>.</summary>
    private async Task ReadForeignTablesAsync(CancellationToken ct)
    {
        await QueryAsync("SELECT f.ftrelid, s.srvname, f.ftoptions FROM pg_foreign_table f JOIN pg_foreign_server s ON s.oid = f.ftserver", r =>
            Read.ForeignTables[r.GetFieldValue<uint>(0)] = new ForeignTableClauses(
                $" SERVER {Sql.Ident(r.GetString(1))}{OptionsClause(r.IsDBNull(2) ? null : r.GetFieldValue<string[]>(2))}", new()), ct);
        await QueryAsync("""
            SELECT a.attrelid, a.attname, a.attfdwoptions FROM pg_attribute a JOIN pg_foreign_table f ON f.ftrelid = a.attrelid
            WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attfdwoptions IS NOT NULL ORDER BY a.attrelid, a.attnum
            """, r => Read.ForeignTables[r.GetFieldValue<uint>(0)].ColumnOptions[r.GetString(1)] = OptionsClause(r.GetFieldValue<string[]>(2)), ct);
    }
}

/// <summary>What CREATE FOREIGN TABLE adds to a table's definition: <c> SERVER s OPTIONS (...)</c>, and each column's <c> OPTIONS (...)</c>.</summary>
internal sealed record ForeignTableClauses(string Server, Dictionary<string, string> ColumnOptions);
