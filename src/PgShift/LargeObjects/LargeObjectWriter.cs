using System.Data;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;

namespace PgShift.LargeObjects;

/// <summary>
/// Writes large objects on the target from a source session that reads them (in the snapshot it imported): content in
/// chunks of <see cref="LargeObjectCatalog.ChunkBytes"/> through one reused buffer, whatever the object's size, and the
/// owner, privileges and comment by statements. Everything goes into the caller's target transaction.
/// </summary>
public sealed class LargeObjectWriter(NpgsqlConnection source, NpgsqlConnection target, LargeObjectProgress progress)
{
    private readonly byte[] _buffer = new byte[LargeObjectCatalog.ChunkBytes];

    /// <summary>Creates the object with the source's OID, content and (<paramref name="desired"/>) metadata; replacing, it first unlinks the one in its place.</summary>
    /// <returns>The bytes written.</returns>
    public async Task<long> CreateAsync(LargeObject desired, bool replace, string currentUser, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using (var create = new NpgsqlCommand(replace ? "SELECT lo_unlink(@oid); SELECT lo_create(@oid)" : "SELECT lo_create(@oid)", target, tx))
        {
            create.Parameters.Add(OidParameter(desired.Oid));
            await create.ExecuteNonQueryAsync(ct);
        }
        var written = await CopyContentAsync(desired.Oid, desired.Size, tx, ct);
        // A new object: the task's user owns it, with the default privileges, and no comment.
        var fresh = new LargeObject(desired.Oid, currentUser, [new(currentUser, "SELECT", false), new(currentUser, "UPDATE", false)], null, 0);
        await ApplyMetadataAsync(desired, fresh, tx, ct);
        return written;
    }

    private async Task<long> CopyContentAsync(uint oid, long size, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var read = new NpgsqlCommand("SELECT lo_get(@oid, @offset, @length)", source);
        read.Parameters.Add(OidParameter(oid));
        var readOffset = read.Parameters.AddWithValue("offset", 0L);
        read.Parameters.AddWithValue("length", LargeObjectCatalog.ChunkBytes);
        await using var write = new NpgsqlCommand("SELECT lo_put(@oid, @offset, @data)", target, tx);
        write.Parameters.Add(OidParameter(oid));
        var writeOffset = write.Parameters.AddWithValue("offset", 0L);
        var data = new NpgsqlParameter<ReadOnlyMemory<byte>>("data", NpgsqlDbType.Bytea);
        write.Parameters.Add(data);
        long offset = 0;
        while (offset < size)
        {
            readOffset.Value = offset;
            int length;
            await using (var rd = await read.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct))
            {
                await rd.ReadAsync(ct);
                length = (int)rd.GetBytes(0, 0, _buffer, 0, _buffer.Length);
            }
            if (length == 0)
            {
                break;
            }
            writeOffset.Value = offset;
            data.TypedValue = _buffer.AsMemory(0, length);
            await write.ExecuteNonQueryAsync(ct);
            offset += length;
            progress.AddBytes(length);
        }
        return offset;
    }

    /// <summary>Makes the target object's comment, owner and privileges those of <paramref name="desired"/>, given what it has now (<paramref name="current"/>).</summary>
    /// <returns>Whether anything changed.</returns>
    public async Task<bool> ApplyMetadataAsync(LargeObject desired, LargeObject current, NpgsqlTransaction tx, CancellationToken ct)
    {
        var oid = desired.Oid.ToString(CultureInfo.InvariantCulture);
        var statements = new List<string>();
        // The comment first: COMMENT ON needs ownership, which changing the owner may take away.
        if (desired.Comment != current.Comment)
        {
            statements.Add($"COMMENT ON LARGE OBJECT {oid} IS {(desired.Comment is null ? "NULL" : Sql.Literal(desired.Comment))}");
        }
        var grants = current.Grants;
        if (desired.Owner != current.Owner)
        {
            statements.Add($"ALTER LARGE OBJECT {oid} OWNER TO {Sql.Ident(desired.Owner)}");
            // The server hands the old owner's privileges to the new one.
            grants = grants.Select(g => g.Grantee == current.Owner ? g with { Grantee = desired.Owner } : g).Distinct().ToList();
        }
        if (!LargeObject.SameGrants(desired.Grants, grants))
        {
            if (grants.Count > 0)
            {
                statements.Add($"REVOKE ALL ON LARGE OBJECT {oid} FROM {string.Join(", ", grants.Select(g => Grantee(g.Grantee)).Distinct())} CASCADE");
            }
            foreach (var same in desired.Grants.GroupBy(g => (g.Grantee, g.Grantable)))
            {
                statements.Add($"GRANT {string.Join(", ", same.Select(g => g.Privilege).Distinct())} ON LARGE OBJECT {oid} TO {Grantee(same.Key.Grantee)}" +
                    (same.Key.Grantable ? " WITH GRANT OPTION" : ""));
            }
        }
        foreach (var sql in statements)
        {
            try
            {
                await using var cmd = new NpgsqlCommand(sql, target, tx);
                await cmd.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException pe) when (pe.SqlState is "42501" or "42704")
            {
                throw new PgShiftException($"Cannot set the owner, privileges or comment of large object {oid} on the target ({sql}): {pe.MessageText}.",
                    "Connect to the target as a superuser, or as a member of the roles that own the large objects on the source.", pe);
            }
        }
        return statements.Count > 0;
    }

    private static string Grantee(string role) => role == LargeObjectGrant.Public ? "PUBLIC" : Sql.Ident(role);

    private static NpgsqlParameter OidParameter(uint oid) => new("oid", NpgsqlDbType.Oid) { Value = oid };
}
