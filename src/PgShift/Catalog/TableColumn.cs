using Npgsql;

namespace PgShift.Catalog;

/// <summary>A column of a table as its definition needs it: type, nullability, identity, generation, default, options.</summary>
/// <param name="Identity">pg_attribute.attidentity: 'a' (ALWAYS), 'd' (BY DEFAULT) or '\0'.</param>
/// <param name="Generated">pg_attribute.attgenerated: 's' (STORED) or '\0'.</param>
/// <param name="Default">The default expression, or the generation expression of a generated column.</param>
/// <param name="Collation">The quoted collation, when it differs from the type's.</param>
/// <param name="Storage">pg_attribute.attstorage, when it differs from the type's.</param>
/// <param name="IsLocal">Defined by the table itself, not only inherited.</param>
/// <param name="IdentitySequence">The identity column's sequence; 0 when none.</param>
/// <param name="Compression">pg_attribute.attcompression (PostgreSQL 14+): 'p' (pglz) or 'l' (lz4) when set; null for the default.</param>
/// <param name="DropsInheritedDefault">Inherited from a parent that has a default, without one of its own (a partition attached without it).</param>
/// <param name="ParentGeneration">A generated column that a parent has too: "same" (the parent generates it with the same expression), "other" (another expression) or "plain" (the parent's is not generated); null otherwise.</param>
public sealed record TableColumn(string Name, string Type, bool NotNull, char Identity, char Generated, string? Default, string? Collation,
    string? Storage, int? StatTarget, bool IsLocal, uint IdentitySequence, string? ParentGeneration = null,
    char? Compression = null, bool DropsInheritedDefault = false)
{
    /// <summary>The columns of every table, partitioned and foreign table in a user schema, by table oid, in column order.</summary>
    public static async Task<Dictionary<uint, List<TableColumn>>> LoadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var identitySeq = new Dictionary<(uint, int), uint>();
        await conn.ForEachRowAsync("""
            SELECT d.refobjid, d.refobjsubid, d.objid FROM pg_depend d
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' AND d.refobjsubid > 0
              AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
            """, r => identitySeq[(r.GetFieldValue<uint>(0), r.GetInt32(1))] = r.GetFieldValue<uint>(2), ct);

        var version = conn.PostgreSqlVersion.Major;
        var generated = version >= 12 ? "a.attgenerated::text" : "''";
        var statTarget = version >= 17 ? "a.attstattarget::int" : "nullif(a.attstattarget, -1)::int";
        // For a generated column that a parent has too: whether the parent's is generated the same way ('same'),
        // with another expression ('other'), or not at all ('plain'); versions of PostgreSQL accept these differently.
        var parentGeneration = version >= 12
            ? """
              CASE WHEN a.attinhcount > 0 AND a.attgenerated <> '' THEN (
                  SELECT CASE WHEN pa.attgenerated = '' THEN 'plain'
                              WHEN pg_get_expr(pd.adbin, pd.adrelid) = pg_get_expr(d.adbin, d.adrelid) THEN 'same' ELSE 'other' END
                  FROM pg_inherits i JOIN pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = a.attname
                  LEFT JOIN pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum
                  WHERE i.inhrelid = a.attrelid ORDER BY i.inhseqno LIMIT 1) END
              """
            : "NULL::text";
        var compression = version >= 14 ? "nullif(a.attcompression::text, '')" : "NULL::text";
        var columns = new Dictionary<uint, List<TableColumn>>();
        await conn.ForEachRowAsync($"""
            SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text, {generated},
                   pg_get_expr(d.adbin, d.adrelid),
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
                   CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
                   {statTarget}, a.attislocal, a.attnum, {parentGeneration}, {compression},
                   a.attinhcount > 0 AND NOT a.atthasdef AND EXISTS (
                       SELECT 1 FROM pg_inherits i JOIN pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = a.attname
                       WHERE i.inhrelid = a.attrelid AND pa.atthasdef)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            ORDER BY a.attrelid, a.attnum
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!columns.TryGetValue(rel, out var list))
            {
                columns[rel] = list = new List<TableColumn>();
            }
            var ident = r.GetString(4);
            var gen = r.GetString(5);
            list.Add(new TableColumn(r.GetString(1), r.GetString(2), r.GetBoolean(3), ident.Length > 0 ? ident[0] : '\0', gen.Length > 0 ? gen[0] : '\0',
                r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8),
                r.IsDBNull(9) ? null : r.GetInt32(9), r.GetBoolean(10), identitySeq.GetValueOrDefault((rel, (int)r.GetInt16(11))),
                r.IsDBNull(12) ? null : r.GetString(12), r.IsDBNull(13) ? null : r.GetString(13)[0], r.GetBoolean(14)));
        }, ct);
        return columns;
    }
}
