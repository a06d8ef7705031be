using System.Globalization;
using Npgsql;
using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Copy;

/// <summary>Plans the copy of the selected leaf tables: columns, format, size, and ranges for big tables.</summary>
public static class CopyPlanner
{
    private const uint FirstNormalObjectId = 16384;

    private sealed record TypeInfo(char TypType, uint BaseType, uint Element, char Category, bool HasBinaryIo);

    public static async Task<List<TableCopyPlan>> PlanAsync(NpgsqlConnection source, IEnumerable<uint> selectedTables, NameMapping mapping,
        ColumnExclusions excluded, long splitThresholdBytes, CancellationToken ct)
    {
        var oids = selectedTables.ToArray();
        var version = source.PostgreSqlVersion.Major;
        var types = new Dictionary<uint, TypeInfo>();
        await QueryAsync(source, "SELECT oid, typtype::text, typbasetype, typelem, typcategory::text, typsend <> 0 AND typreceive <> 0 FROM pg_type", null, r =>
            types[r.GetFieldValue<uint>(0)] = new TypeInfo(r.GetString(1)[0], r.GetFieldValue<uint>(2), r.GetFieldValue<uint>(3), r.GetString(4)[0], r.GetBoolean(5)), ct);

        var columns = new Dictionary<uint, List<(string Name, uint Type)>>();
        var notGenerated = version >= 12 ? "AND a.attgenerated = ''" : "";
        await QueryAsync(source, $"""
            SELECT a.attrelid, a.attname, a.atttypid FROM pg_attribute a
            WHERE a.attrelid = ANY(@oids) AND a.attnum > 0 AND NOT a.attisdropped {notGenerated}
            ORDER BY a.attrelid, a.attnum
            """, oids, r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!columns.TryGetValue(rel, out var list))
            {
                columns[rel] = list = new();
            }
            list.Add((r.GetString(1), r.GetFieldValue<uint>(2)));
        }, ct);

        var plans = new List<TableCopyPlan>();
        var intKeys = new Dictionary<uint, string>();
        await QueryAsync(source, """
            SELECT i.indrelid, a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indisprimary AND i.indnatts = 1 AND i.indrelid = ANY(@oids) AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
            """, oids, r => intKeys[r.GetFieldValue<uint>(0)] = r.GetString(1), ct);

        var blockSize = 8192L;
        await QueryAsync(source, "SELECT current_setting('block_size')::bigint", null, r => blockSize = r.GetInt64(0), ct);
        await QueryAsync(source, """
            SELECT c.oid, n.nspname, c.relname, pg_relation_size(c.oid), greatest(c.reltuples, 0)::bigint, c.relpersistence = 'u'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY(@oids) AND c.relkind = 'r'
            """, oids, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var name = new QualifiedName(r.GetString(1), r.GetString(2));
            var cols = (columns.GetValueOrDefault(oid) ?? []).Where(c => !excluded.Excludes(name, c.Name)).ToList();
            plans.Add(new TableCopyPlan
            {
                SourceOid = oid,
                Source = name,
                Target = mapping.MapTable(name),
                SourceColumns = cols.Select(c => c.Name).ToList(),
                TargetColumns = cols.Select(c => mapping.MapColumn(name, c.Name)).ToList(),
                StreamColumns = (columns.GetValueOrDefault(oid) ?? []).Select(c => $"{c.Name}:{c.Type}").ToList(),
                Binary = cols.All(c => BinarySafe(types, c.Type)),
                EstimatedBytes = r.GetInt64(3),
                EstimatedRows = r.GetInt64(4),
                Unlogged = r.GetBoolean(5),
            });
        }, ct);

        foreach (var plan in plans)
        {
            await SplitAsync(source, plan, version, blockSize, intKeys, splitThresholdBytes, ct);
        }
        return LargestFirst(plans);
    }

    /// <summary>A table larger than the threshold gets ranges: of pages (PostgreSQL 14+), else of its integer key.</summary>
    private static async Task SplitAsync(NpgsqlConnection source, TableCopyPlan plan, int version, long blockSize, Dictionary<uint, string> intKeys,
        long splitThresholdBytes, CancellationToken ct)
    {
        var parts = Parts(plan.EstimatedBytes, splitThresholdBytes);
        if (parts < 2)
        {
            return;
        }
        if (version >= 14)
        {
            // TID range scans read only their pages.
            plan.Ranges = PageRanges(plan.EstimatedBytes / blockSize, parts);
        }
        else if (intKeys.TryGetValue(plan.SourceOid, out var key))
        {
            long min = 0, max = 0;
            await QueryAsync(source, $"SELECT coalesce(min({Sql.Ident(key)}), 0)::bigint, coalesce(max({Sql.Ident(key)}), 0)::bigint FROM ONLY {plan.Source}", null, r =>
            {
                min = r.GetInt64(0);
                max = r.GetInt64(1);
            }, ct);
            plan.Ranges = KeyRanges(Sql.Ident(key), min, max, parts);
        }
    }

    /// <summary>The tables in the order the workers take them: largest first, so the longest copy starts first.</summary>
    internal static List<TableCopyPlan> LargestFirst(IEnumerable<TableCopyPlan> plans) => plans.OrderByDescending(p => p.EstimatedBytes).ToList();

    /// <summary>How many ranges a table of this size is copied in: one up to the threshold (0: never split), else one per threshold, at most 64.</summary>
    internal static int Parts(long estimatedBytes, long splitThresholdBytes)
        => splitThresholdBytes > 0 && estimatedBytes > splitThresholdBytes ? (int)Math.Min(64, (estimatedBytes + splitThresholdBytes - 1) / splitThresholdBytes) : 1;

    /// <summary>Ranges of pages (ctid), for servers that scan a TID range reading only its pages (PostgreSQL 14 on).</summary>
    internal static List<string?> PageRanges(long pages, int parts)
    {
        var step = Math.Max(1, (pages + parts - 1) / parts);
        return Enumerable.Range(0, parts).Select(i => (string?)Bounds("ctid", $"'({i * step},0)'::tid", $"'({(i + 1) * step},0)'::tid", i, parts)).ToList();
    }

    /// <summary>Ranges of an integer key between its smallest and largest value (<paramref name="key"/> quoted already).</summary>
    internal static List<string?> KeyRanges(string key, long min, long max, int parts)
    {
        var step = Math.Max(1, (max - min) / parts + 1);
        return Enumerable.Range(0, parts)
            .Select(i => (string?)Bounds(key, (min + i * step).ToString(CultureInfo.InvariantCulture), (min + (i + 1) * step).ToString(CultureInfo.InvariantCulture), i, parts))
            .ToList();
    }

    /// <summary>The first range is open below and the last open above, so rows outside the planned bounds are copied too.</summary>
    private static string Bounds(string column, string from, string to, int index, int count)
        => index == 0 ? $"{column} < {to}" : index == count - 1 ? $"{column} >= {from}" : $"{column} >= {from} AND {column} < {to}";

    private static bool BinarySafe(Dictionary<uint, TypeInfo> types, uint oid)
    {
        if (!types.TryGetValue(oid, out var t) || !t.HasBinaryIo)
        {
            return false;
        }
        return t.TypType switch
        {
            'd' => BinarySafe(types, t.BaseType),
            'c' => false,
            _ when t.Category == 'A' && t.Element != 0 => t.Element < FirstNormalObjectId && BinarySafe(types, t.Element),
            _ => true,
        };
    }

    private static Task QueryAsync(NpgsqlConnection conn, string sql, uint[]? oids, Action<NpgsqlDataReader> row, CancellationToken ct)
        => conn.ForEachRowAsync(sql, row, ct, oids);
}
