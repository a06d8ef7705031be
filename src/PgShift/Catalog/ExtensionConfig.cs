using Npgsql;

namespace PgShift.Catalog;

/// <summary>
/// A table an extension registered with pg_extension_config_dump (pg_extension.extconfig): CREATE EXTENSION creates it,
/// but its rows that match <see cref="Condition"/> are the user's (partman.part_config, topology.topology, the
/// spatial_ref_sys rows a user added) and move with the data, as pg_dump moves them.
/// </summary>
/// <param name="Condition">The extension's filter, a whole WHERE clause ("WHERE NOT standard"), or empty: every row is the user's.</param>
/// <param name="Columns">Stored columns in order (generated ones are computed on the target).</param>
/// <param name="References">Other tables this one has foreign keys to: their rows go in first, and out last.</param>
public sealed record ExtensionConfigTable(string Extension, uint Oid, QualifiedName Name, string Condition, IReadOnlyList<string> Columns,
    IReadOnlyList<uint> References);

/// <summary>What an extension keeps of the user's: its configuration tables, and the sequences registered or owned by them.</summary>
public sealed record ExtensionConfig(IReadOnlyList<ExtensionConfigTable> Tables, IReadOnlyList<QualifiedName> Sequences)
{
    public static async Task<ExtensionConfig> LoadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var tables = new List<ExtensionConfigTable>();
        var sequences = new List<QualifiedName>();
        await conn.ForEachRowAsync("""
            SELECT e.extname, c.oid, n.nspname, c.relname, c.relkind = 'S', coalesce(e.extcondition[x.i], ''),
                   ARRAY(SELECT a.attname::text FROM pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND coalesce(to_jsonb(a) ->> 'attgenerated', '') = '' ORDER BY a.attnum),
                   ARRAY(SELECT DISTINCT f.confrelid FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid)
            FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig) WITH ORDINALITY AS x(rel, i)
            JOIN pg_class c ON c.oid = x.rel JOIN pg_namespace n ON n.oid = c.relnamespace
            ORDER BY e.oid, x.i
            """, r =>
        {
            var name = new QualifiedName(r.GetString(2), r.GetString(3));
            if (r.GetBoolean(4))
            {
                sequences.Add(name);
                return;
            }
            tables.Add(new ExtensionConfigTable(r.GetString(0), r.GetFieldValue<uint>(1), name, r.GetString(5),
                r.GetFieldValue<string[]>(6), r.GetFieldValue<uint[]>(7)));
        }, ct);
        // A serial column's sequence of a configuration table (topology.topology_id_seq): its value goes with the rows.
        await conn.ForEachRowAsync("""
            SELECT DISTINCT n.nspname, s.relname
            FROM pg_depend d JOIN pg_class s ON s.oid = d.objid JOIN pg_namespace n ON n.oid = s.relnamespace
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
              AND s.relkind = 'S' AND d.refobjid = ANY(@oids)
            """, r => sequences.Add(new QualifiedName(r.GetString(0), r.GetString(1))), ct, tables.Select(t => t.Oid).ToArray());
        return new ExtensionConfig(Ordered(tables), sequences.Distinct().ToList());
    }

    /// <summary>Referenced tables before the tables that reference them (a cycle is left in the extension's order).</summary>
    private static List<ExtensionConfigTable> Ordered(List<ExtensionConfigTable> tables)
    {
        var byOid = tables.ToDictionary(t => t.Oid);
        var ordered = new List<ExtensionConfigTable>();
        var placed = new HashSet<uint>();
        void Place(ExtensionConfigTable t, HashSet<uint> visiting)
        {
            if (placed.Contains(t.Oid) || !visiting.Add(t.Oid))
            {
                return;
            }
            foreach (var referenced in t.References.Where(byOid.ContainsKey))
            {
                Place(byOid[referenced], visiting);
            }
            placed.Add(t.Oid);
            ordered.Add(t);
        }
        foreach (var t in tables)
        {
            Place(t, new HashSet<uint>());
        }
        return ordered;
    }
}
