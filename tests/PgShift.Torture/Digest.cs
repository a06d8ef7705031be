using System.Text;
using Npgsql;

namespace PgShift.Torture;

/// <summary>One table's contents in short: its row count and an md5 over the md5s of its rows' text, sorted.</summary>
public sealed record TableDigest(string Table, long Rows, string Md5);

/// <summary>
/// The harness's own comparison, independent of PgShift's verify: per table (each leaf partition on its own), the
/// row count and a digest of the multiset of rows, computed by SQL on each side with the settings that shape a
/// row's text pinned alike. A table that differs is explained by up to five rows present on one side only.
/// </summary>
public static class Digest
{
    private const string PinnedSettings =
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'";

    /// <summary>The source's tables (leaves), as schema-qualified quoted names.</summary>
    public static async Task<IReadOnlyList<(string Name, string[] Key)>> TablesAsync(NpgsqlConnection source, CancellationToken ct)
    {
        var tables = new List<(string, string[])>();
        await using var cmd = new NpgsqlCommand("""
            SELECT format('%I.%I', n.nspname, c.relname),
                   coalesce((SELECT array_agg(quote_ident(a.attname) ORDER BY a.attnum) FROM pg_index i
                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                             WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift') AND n.nspname NOT LIKE 'pg\_%'
            ORDER BY 1
            """, source);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            tables.Add((rd.GetString(0), rd.GetFieldValue<string[]>(1)));
        }
        return tables;
    }

    /// <summary>The digest of a table, or null when the table does not exist on that side.</summary>
    public static async Task<TableDigest?> OfAsync(NpgsqlConnection c, string table, CancellationToken ct)
    {
        await using (var set = new NpgsqlCommand(PinnedSettings, c))
        {
            await set.ExecuteNonQueryAsync(ct);
        }
        await using (var exists = new NpgsqlCommand("SELECT to_regclass(@t) IS NOT NULL", c))
        {
            exists.Parameters.AddWithValue("t", table);
            if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
            {
                return null;
            }
        }
        await using var cmd = new NpgsqlCommand(
            $"SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h COLLATE \"C\")), '') FROM (SELECT md5(t::text) AS h FROM ONLY {table} t) s", c);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return new TableDigest(table, rd.GetInt64(0), rd.GetString(1));
    }

    /// <summary>Up to five rows (by key, when the table has one) that one side holds and the other does not.</summary>
    public static async Task<string> ExplainAsync(NpgsqlConnection source, NpgsqlConnection target, string table, string[] key, CancellationToken ct)
    {
        var keyExpr = key.Length == 0 ? "''" : $"row({string.Join(", ", key)})::text";
        async Task<Dictionary<(string Key, string Row), int>> RowsAsync(NpgsqlConnection c)
        {
            await using (var set = new NpgsqlCommand(PinnedSettings, c))
            {
                await set.ExecuteNonQueryAsync(ct);
            }
            var rows = new Dictionary<(string, string), int>();
            await using var cmd = new NpgsqlCommand($"SELECT {keyExpr}, t::text FROM ONLY {table} t", c);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                var k = (rd.GetString(0), rd.GetString(1));
                rows[k] = rows.GetValueOrDefault(k) + 1;
            }
            return rows;
        }
        var src = await RowsAsync(source);
        var tgt = await RowsAsync(target);
        var onlySource = src.Where(r => r.Value > tgt.GetValueOrDefault(r.Key)).Select(r => r.Key).ToList();
        var onlyTarget = tgt.Where(r => r.Value > src.GetValueOrDefault(r.Key)).Select(r => r.Key).ToList();
        static string Cut(string s) => s.Length > 160 ? s[..160] + "..." : s;
        var sb = new StringBuilder();
        sb.Append($"    {onlySource.Count} row(s) only on the source (or more often there), {onlyTarget.Count} only on the target");
        foreach (var r in onlySource.OrderBy(r => r.Key, StringComparer.Ordinal).Take(5))
        {
            sb.Append($"\n      source only: key {r.Key} row {Cut(r.Row)}");
        }
        foreach (var r in onlyTarget.OrderBy(r => r.Key, StringComparer.Ordinal).Take(5))
        {
            sb.Append($"\n      target only: key {r.Key} row {Cut(r.Row)}");
        }
        return sb.ToString();
    }
}
