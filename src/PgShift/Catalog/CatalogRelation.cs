using Npgsql;

namespace PgShift.Catalog;

/// <summary>
/// A relation in a user schema of a server (an extension's own relations and composite types left out: the extension creates them):
/// what the selection is decided on.
/// </summary>
/// <param name="Kind">pg_class.relkind: r, p, f (tables), v, m (views), S (sequence), c (composite type).</param>
/// <param name="PartitionParent">For a partition, the partitioned table it is attached to; 0 otherwise.</param>
public sealed record CatalogRelation(uint Oid, QualifiedName Name, char Kind, uint PartitionParent)
{
    /// <summary>Holds rows, or is a partitioned or foreign table: what a table pattern selects.</summary>
    public bool IsTable => Kind is 'r' or 'p' or 'f';

    public bool IsPartition => PartitionParent != 0;

    public static async Task<List<CatalogRelation>> LoadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var list = new List<CatalogRelation>();
        await conn.ForEachRowAsync("""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, CASE WHEN c.relispartition THEN coalesce(i.inhparent, 0) ELSE 0 END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = c.reltype AND d.deptype = 'e')
            """, r => list.Add(new CatalogRelation(r.GetFieldValue<uint>(0), new QualifiedName(r.GetString(1), r.GetString(2)),
                r.GetString(3)[0], r.GetFieldValue<uint>(4))), ct);
        return list;
    }
}
