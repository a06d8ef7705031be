using Npgsql;

namespace PgShift.Catalog;

/// <summary>A database of a server, with what creating it again elsewhere needs.</summary>
public sealed record ServerDatabase(string Name, string Owner, string Encoding, string Collate, string Ctype);

/// <summary>The databases a server holds that a migration of the whole server moves.</summary>
public static class ServerDatabases
{
    /// <summary>
    /// Every database that accepts connections and is not a template, by name. As pg_dumpall does, template0 and template1
    /// stay behind (they are the server's own) and <c>postgres</c> is one of the rest; a database that refuses connections
    /// (<c>datallowconn</c> off: a managed service's own, such as rdsadmin) cannot be read, so it stays behind too.
    /// </summary>
    public static async Task<IReadOnlyList<ServerDatabase>> ListAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        const string sql = """
            SELECT d.datname, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype
            FROM pg_database d
            WHERE NOT d.datistemplate AND d.datallowconn
            ORDER BY d.datname COLLATE "C"
            """;
        var list = new List<ServerDatabase>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(new ServerDatabase(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4)));
        }
        return list;
    }

    /// <summary>Whether the session's database holds a table (or a partitioned table) of its own, outside the system's schemas.</summary>
    public static async Task<bool> HoldsTablesAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        const string sql = """
            SELECT EXISTS (
                SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
                  AND n.nspname !~ '^pg_(toast|temp_)')
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
