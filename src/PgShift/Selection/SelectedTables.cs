using Npgsql;
using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>
/// Which of the source's relations a task moves: the one answer that the precheck, the schema, the copy, the stream,
/// the cutover and the verify all use. A partition goes with its root: selecting a partitioned table selects all of it,
/// and a partition is never selected apart from its root, whatever its own name. Views, sequences and composite types
/// go with their schema.
/// </summary>
public sealed class SelectedTables
{
    private readonly Dictionary<uint, CatalogRelation> _all;
    private readonly HashSet<uint> _relations = new();
    private readonly Dictionary<uint, QualifiedName> _tables = new();
    private readonly HashSet<QualifiedName> _tableNames = new();

    private SelectedTables(IEnumerable<CatalogRelation> relations, TableSelection selection)
    {
        _all = relations.ToDictionary(r => r.Oid);
        foreach (var rel in _all.Values)
        {
            if (rel.IsTable)
            {
                if (selection.IncludesTable(RootOf(rel.Oid).Name))
                {
                    _relations.Add(rel.Oid);
                    _tables[rel.Oid] = rel.Name;
                    _tableNames.Add(rel.Name);
                }
            }
            else if (selection.IncludesSchema(rel.Name.Schema))
            {
                _relations.Add(rel.Oid);
            }
        }
    }

    /// <summary>Selected tables (partitions, partitioned and foreign tables included), by oid, with their source names.</summary>
    public IReadOnlyDictionary<uint, QualifiedName> Tables => _tables;

    /// <summary>Every relation in a user schema of the source, selected or not, by oid.</summary>
    public IReadOnlyDictionary<uint, CatalogRelation> AllRelations => _all;

    /// <summary>Whether the relation (of any kind) is selected.</summary>
    public bool Contains(uint oid) => _relations.Contains(oid);

    /// <summary>Whether the table of that source name is selected.</summary>
    public bool IncludesTable(QualifiedName table) => _tableNames.Contains(table);

    /// <summary>Reads the source's relations and applies <paramref name="selection"/> to them.</summary>
    public static async Task<SelectedTables> LoadAsync(NpgsqlConnection source, TableSelection selection, CancellationToken ct)
        => From(await CatalogRelation.LoadAsync(source, ct), selection);

    public static SelectedTables From(IEnumerable<CatalogRelation> relations, TableSelection selection) => new(relations, selection);

    /// <summary>
    /// The selected tables whose names are in <paramref name="known"/>, and the partitioned tables above them (which
    /// hold no rows, so the copy never records them, but own keys, identity and serial sequences, and triggers).
    /// </summary>
    public Dictionary<uint, QualifiedName> Among(IReadOnlySet<string> known)
    {
        var keep = new HashSet<uint>();
        foreach (var (oid, name) in _tables)
        {
            if (!known.Contains(name.ToString()))
            {
                continue;
            }
            var o = oid;
            while (keep.Add(o) && _all.TryGetValue(o, out var rel) && rel.IsPartition)
            {
                o = rel.PartitionParent;
            }
        }
        return _tables.Where(kv => keep.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>
    /// For each partition and partitioned table, the root of its tree (statements on a partitioned table reach its
    /// partitions, so statements on one tree must not run side by side); other relations are not in the answer.
    /// </summary>
    public Dictionary<QualifiedName, QualifiedName> PartitionTrees()
    {
        var trees = new Dictionary<QualifiedName, QualifiedName>();
        foreach (var rel in _all.Values.Where(r => r.IsPartition || r.Kind == 'p'))
        {
            trees[rel.Name] = RootOf(rel.Oid).Name;
        }
        return trees;
    }

    private CatalogRelation RootOf(uint oid)
    {
        var rel = _all[oid];
        while (rel.IsPartition && _all.TryGetValue(rel.PartitionParent, out var parent))
        {
            rel = parent;
        }
        return rel;
    }
}
