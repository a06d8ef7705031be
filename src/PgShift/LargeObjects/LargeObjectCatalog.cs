using Npgsql;
using NpgsqlTypes;

namespace PgShift.LargeObjects;

/// <summary>What a server holds of large objects: the objects with their owner, ACL, comment and size; their count and total size; one object's digest.</summary>
public static class LargeObjectCatalog
{
    /// <summary>Bytes read or written at once: a large object of any size goes through in pieces of this.</summary>
    public const int ChunkBytes = 1024 * 1024;

    /// <summary>
    /// Each object's size, as of the transaction's snapshot: opened for reading (INV_READ), sought to its end and closed
    /// again in the same row, so that a million objects do not hold a million descriptors. OFFSET 0 keeps the open from
    /// being evaluated once per use of its result.
    /// </summary>
    private const string SizeOf = """
        CROSS JOIN LATERAL (SELECT lo_lseek64(o.fd, 0, 2) AS size, lo_close(o.fd) FROM (SELECT lo_open(m.oid, 262144) AS fd OFFSET 0) o) s
        """;

    /// <summary>Every large object, by OID, as of the session's snapshot (import one first for a consistent reading).</summary>
    public static async Task<List<LargeObject>> ListAsync(NpgsqlConnection conn, string side, CancellationToken ct)
    {
        var list = new List<LargeObject>();
        await using var cmd = new NpgsqlCommand($$"""
            SELECT m.oid, pg_get_userbyid(m.lomowner), a.grantees, a.privileges, a.grantable, d.description, s.size
            FROM pg_largeobject_metadata m
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END), '{}') AS grantees,
                       coalesce(array_agg(x.privilege_type), '{}') AS privileges, coalesce(array_agg(x.is_grantable), '{}') AS grantable
                FROM aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) x) a
            LEFT JOIN pg_description d ON d.objoid = m.oid AND d.classoid = 'pg_largeobject'::regclass AND d.objsubid = 0
            {{SizeOf}}
            ORDER BY m.oid
            """, conn);
        await using var rd = await ReadAsync(cmd, side, ct);
        while (await rd.ReadAsync(ct))
        {
            var grantees = rd.GetFieldValue<string[]>(2);
            var privileges = rd.GetFieldValue<string[]>(3);
            var grantable = rd.GetFieldValue<bool[]>(4);
            var grants = grantees.Select((g, i) => new LargeObjectGrant(g, privileges[i], grantable[i])).ToArray();
            list.Add(new LargeObject(rd.GetFieldValue<uint>(0), rd.GetString(1), grants, rd.IsDBNull(5) ? null : rd.GetString(5), rd.GetInt64(6)));
        }
        return list;
    }

    /// <summary>How many large objects the database holds, and their total size in bytes (as read, not on disk).</summary>
    public static async Task<(long Count, long Bytes)> SummaryAsync(NpgsqlConnection conn, string side, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT count(*), coalesce(sum(s.size), 0)::bigint FROM pg_largeobject_metadata m {SizeOf}", conn);
        await using var rd = await ReadAsync(cmd, side, ct);
        await rd.ReadAsync(ct);
        return (rd.GetInt64(0), rd.GetInt64(1));
    }

    /// <summary>
    /// An MD5 over the MD5s of the object's chunks, computed by the server (nothing travels but the digest), one chunk in
    /// memory at a time; null for an empty object. Equal digests and sizes mean equal content.
    /// </summary>
    public static async Task<string?> DigestAsync(NpgsqlConnection conn, uint oid, long size, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT md5(string_agg(md5(lo_get(@oid, o, @chunk)), '' ORDER BY o)) FROM generate_series(0::bigint, @size - 1, @chunk) o
            """, conn);
        cmd.Parameters.Add(new NpgsqlParameter("oid", NpgsqlDbType.Oid) { Value = oid });
        cmd.Parameters.AddWithValue("chunk", ChunkBytes);
        cmd.Parameters.AddWithValue("size", size);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>The roles of a server, and the session's own (current_user).</summary>
    public static async Task<(HashSet<string> Roles, string CurrentUser)> RolesAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var roles = new HashSet<string>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT rolname, rolname = current_user FROM pg_roles", conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        var me = "";
        while (await rd.ReadAsync(ct))
        {
            roles.Add(rd.GetString(0));
            if (rd.GetBoolean(1))
            {
                me = rd.GetString(0);
            }
        }
        return (roles, me);
    }

    private static async Task<NpgsqlDataReader> ReadAsync(NpgsqlCommand cmd, string side, CancellationToken ct)
    {
        try
        {
            return await cmd.ExecuteReaderAsync(ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "42501")
        {
            throw Unreadable(pe, side);
        }
    }

    /// <summary>A large object the connecting role may not read (permission denied): what to grant.</summary>
    public static PgShiftException Unreadable(PostgresException pe, string side) => new(
        $"Cannot read the large objects on the {side}: {pe.MessageText}.",
        $"Connect to the {side} as a superuser or as the objects' owner, or GRANT SELECT ON LARGE OBJECT <oid> TO the role PgShift connects as; " +
        "or leave the large objects out (--no-large-objects, or large_objects: false in the task file).", pe);
}
