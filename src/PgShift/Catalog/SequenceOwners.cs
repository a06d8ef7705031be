using Npgsql;

namespace PgShift.Catalog;

/// <summary>A source sequence and, for serial and identity sequences, the column that owns it.</summary>
public sealed record SequenceOwner(QualifiedName Sequence, uint? OwnerOid, QualifiedName? OwnerTable, string? OwnerColumn)
{
    /// <summary>Every sequence in user schemas, with its owning column when it has one.</summary>
    public static async Task<List<SequenceOwner>> ReadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var list = new List<SequenceOwner>();
        await conn.ForEachRowAsync("""
            SELECT n.nspname, s.relname, tn.nspname, t.relname, a.attname, t.oid
            FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
            LEFT JOIN pg_class t ON t.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE s.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            """, r => list.Add(new SequenceOwner(new QualifiedName(r.GetString(0), r.GetString(1)),
                r.IsDBNull(5) ? null : r.GetFieldValue<uint>(5),
                r.IsDBNull(5) ? null : new QualifiedName(r.GetString(2), r.GetString(3)),
                r.IsDBNull(5) ? null : r.GetString(4))), ct);
        return list;
    }
}
