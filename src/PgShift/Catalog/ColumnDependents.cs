using Npgsql;

namespace PgShift.Catalog;

/// <summary>
/// Something on the source that needs a column (pg_depend on the column, with the dependent read from pg_constraint,
/// pg_index, pg_rewrite, pg_attrdef, pg_trigger, pg_policy or pg_statistic_ext): <see cref="Kind"/> is one of primary key,
/// unique constraint, exclusion constraint, foreign key, check constraint, index, view, materialized view, rule,
/// generated column, trigger, policy, statistics, sequence (a serial's OWNED BY).
/// </summary>
public sealed record ColumnDependent(uint TableOid, string ColumnName, string Kind, string Name, QualifiedName Owner, char OwnerKind, bool IsReplicaIdentity);

public static class ColumnDependents
{
    /// <summary>The columns of the given tables, in order, by table oid.</summary>
    public static async Task<Dictionary<uint, List<string>>> ColumnsAsync(NpgsqlConnection conn, uint[] tables, CancellationToken ct)
    {
        var result = new Dictionary<uint, List<string>>();
        await conn.ForEachRowAsync("""
            SELECT attrelid, attname FROM pg_attribute
            WHERE attrelid = ANY (@oids) AND attnum > 0 AND NOT attisdropped ORDER BY attrelid, attnum
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!result.TryGetValue(oid, out var list))
            {
                result[oid] = list = new List<string>();
            }
            list.Add(r.GetString(1));
        }, ct, tables);
        return result;
    }

    /// <summary>What needs each column of the given tables, except a column's own default and identity sequence.</summary>
    public static async Task<List<ColumnDependent>> LoadAsync(NpgsqlConnection conn, uint[] tables, CancellationToken ct)
    {
        var result = new List<ColumnDependent>();
        await conn.ForEachRowAsync("""
            SELECT DISTINCT d.refobjid, a.attname,
                   CASE WHEN con.oid IS NOT NULL THEN 'con:' || con.contype::text
                        WHEN rel.oid IS NOT NULL AND d.objsubid > 0 THEN 'column'
                        WHEN rel.oid IS NOT NULL THEN 'rel:' || rel.relkind::text
                        WHEN rw.oid IS NOT NULL AND rw.rulename = '_RETURN' THEN 'rel:' || rwrel.relkind::text
                        WHEN rw.oid IS NOT NULL THEN 'rule'
                        WHEN ad.oid IS NOT NULL AND ad.adnum <> d.refobjsubid THEN 'column'
                        WHEN tg.oid IS NOT NULL THEN 'trigger'
                        WHEN pol.oid IS NOT NULL THEN 'policy'
                        WHEN st.oid IS NOT NULL THEN 'statistics'
                   END AS kind,
                   coalesce(con.conname,
                            CASE WHEN rel.oid IS NOT NULL AND d.objsubid > 0 THEN (SELECT attname FROM pg_attribute WHERE attrelid = d.objid AND attnum = d.objsubid) END,
                            rel.relname, CASE WHEN rw.rulename = '_RETURN' THEN rwrel.relname ELSE rw.rulename END,
                            ada.attname, tg.tgname, pol.polname, st.stxname) AS name,
                   own_ns.nspname, own.relname, own.relkind::text,
                   coalesce(ix.indisreplident, cix.indisreplident, false)
            FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
            LEFT JOIN pg_index cix ON cix.indexrelid = con.conindid AND con.contype IN ('p', 'u', 'x')
            LEFT JOIN pg_class rel ON d.classid = 'pg_class'::regclass AND rel.oid = d.objid
            LEFT JOIN pg_index ix ON ix.indexrelid = rel.oid
            LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
            LEFT JOIN pg_class rwrel ON rwrel.oid = rw.ev_class
            LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
            LEFT JOIN pg_attribute ada ON ada.attrelid = ad.adrelid AND ada.attnum = ad.adnum
            LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
            LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid
            LEFT JOIN pg_statistic_ext st ON d.classid = 'pg_statistic_ext'::regclass AND st.oid = d.objid
            JOIN pg_class own ON own.oid = coalesce(nullif(con.conrelid, 0), ix.indrelid, rel.oid, rw.ev_class, ad.adrelid, tg.tgrelid, pol.polrelid, st.stxrelid)
            JOIN pg_namespace own_ns ON own_ns.oid = own.relnamespace
            WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY (@oids) AND d.refobjsubid > 0
              AND d.deptype <> 'i'
            """, r =>
        {
            if (r.IsDBNull(2))
            {
                return;
            }
            var kind = r.GetString(2) switch
            {
                "con:p" => "primary key",
                "con:u" => "unique constraint",
                "con:x" => "exclusion constraint",
                "con:f" => "foreign key",
                "con:c" => "check constraint",
                "column" => "generated column",
                "rel:i" or "rel:I" => "index",
                "rel:v" => "view",
                "rel:m" => "materialized view",
                "rel:S" => "sequence",
                "rule" => "rule",
                "trigger" => "trigger",
                "policy" => "policy",
                "statistics" => "statistics",
                _ => null,
            };
            if (kind is null)
            {
                return;
            }
            result.Add(new ColumnDependent(r.GetFieldValue<uint>(0), r.GetString(1), kind, r.GetString(3),
                new QualifiedName(r.GetString(4), r.GetString(5)), r.GetString(6)[0], r.GetBoolean(7)));
        }, ct, tables);
        return result;
    }
}
