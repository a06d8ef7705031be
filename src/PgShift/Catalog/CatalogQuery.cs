using Npgsql;
using NpgsqlTypes;

namespace PgShift.Catalog;

/// <summary>The one way PgShift reads catalog rows: a query, optionally with an array of oids as @oids, one callback per row.</summary>
public static class CatalogQuery
{
    public static async Task ForEachRowAsync(this NpgsqlConnection conn, string sql, Action<NpgsqlDataReader> row, CancellationToken ct, uint[]? oids = null)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        if (oids is not null)
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlDbType.Array | NpgsqlDbType.Oid) { Value = oids });
        }
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            row(rd);
        }
    }
}
