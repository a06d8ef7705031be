using System.Globalization;
using Npgsql;
using PgShift.Catalog;

namespace PgShift.Verify;

/// <summary>
/// The user's rows of extensions' configuration tables (pg_extension_config_dump), compared by count and digest: the
/// copy moves them, and the cutover's last copy moves them again (the change stream does not carry them), so before
/// the cutover a difference is only "not synced yet".
/// </summary>
public static class ExtensionConfigVerifier
{
    public static async Task<List<ConfigTableVerification>> VerifyAsync(VerifyOptions options, bool finished, CancellationToken ct)
    {
        var results = new List<ConfigTableVerification>();
        await using var source = await TableVerifier.OpenAsync(options.Source, ct);
        await using var target = await TableVerifier.OpenAsync(options.Target, ct);
        var config = await ExtensionConfig.LoadAsync(source, ct);
        foreach (var conn in new[] { source, target })
        {
            // reg* values (periods keeps regclass columns) read schema-qualified on both sides.
            await using var cmd = new NpgsqlCommand("SET search_path = ''", conn);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        foreach (var t in config.Tables.Where(t => t.Columns.Count > 0))
        {
            var row = $"ROW({string.Join(", ", t.Columns.Select(c => "t." + Sql.Ident(c)))})::text";
            var sql = $"SELECT count(*), coalesce(md5(string_agg({row}, E'\\n' ORDER BY {row} COLLATE \"C\")), '') FROM ONLY {t.Name} t {t.Condition}";
            var (sourceRows, sourceDigest) = await DigestAsync(source, sql, ct);
            var onTarget = await ExistsAsync(target, t.Name, ct);
            var (targetRows, targetDigest) = onTarget ? await DigestAsync(target, sql, ct) : (0L, "");
            var state = !onTarget ? "missing on the target"
                : sourceRows == targetRows && sourceDigest == targetDigest ? "equal"
                : finished ? "differs" : "not synced yet";
            results.Add(new ConfigTableVerification(t.Name.ToString(), t.Extension, sourceRows, targetRows, state));
        }
        return results;
    }

    private static async Task<(long Rows, string Digest)> DigestAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return (rd.GetInt64(0), rd.GetString(1));
    }

    private static async Task<bool> ExistsAsync(NpgsqlConnection conn, QualifiedName table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT to_regclass(@t) IS NOT NULL", conn);
        cmd.Parameters.AddWithValue("t", table.Quoted);
        return Convert.ToBoolean(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}
