using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Post-data statements in groups that may run side by side without deadlocking each other. A statement on a
/// partitioned table reaches its partitions (a key, a NOT VALID check, a foreign key), and a foreign key locks its
/// referenced table too: two statements whose tables meet (through a partition tree or a reference) could take their
/// locks in opposite orders, and the server would end one of them (40P01). Such statements go in one group, run one
/// after the other in the order given; different groups run in parallel.
/// </summary>
internal static class PostDataGroups
{
    public static List<List<T>> Of<T>(IEnumerable<T> work, Func<T, PostDataStatement> statement, IReadOnlyDictionary<QualifiedName, QualifiedName> partitionTrees)
    {
        var parent = new Dictionary<QualifiedName, QualifiedName>();
        QualifiedName Find(QualifiedName t)
        {
            t = partitionTrees.GetValueOrDefault(t, t);
            while (parent.TryGetValue(t, out var p) && p != t)
            {
                t = p;
            }
            return t;
        }
        var items = work.ToList();
        foreach (var item in items)
        {
            var s = statement(item);
            var a = Find(s.Table);
            parent.TryAdd(a, a);
            if (s.ReferencedTable is { } referenced && Find(referenced) is var b && b != a)
            {
                parent[b] = a;
            }
        }
        // Groups in the order of their first statement (the largest table first, as given).
        var groups = new Dictionary<QualifiedName, List<T>>();
        var order = new List<List<T>>();
        foreach (var item in items)
        {
            var root = Find(statement(item).Table);
            if (!groups.TryGetValue(root, out var group))
            {
                groups[root] = group = new List<T>();
                order.Add(group);
            }
            group.Add(item);
        }
        return order;
    }

    /// <summary>Whether statements on the table can run as soon as it is copied, apart from any other table's.</summary>
    public static bool StandsAlone(QualifiedName table, IReadOnlyDictionary<QualifiedName, QualifiedName> partitionTrees) => !partitionTrees.ContainsKey(table);
}
