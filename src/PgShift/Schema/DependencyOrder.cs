namespace PgShift.Schema;

/// <summary>
/// Orders objects so that each comes after everything it depends on (Kahn's algorithm over pg_depend's
/// edges); among the ready ones, by kind and then name, so the order is stable from run to run.
/// </summary>
public static class DependencyOrder
{
    public static List<SchemaObject> Sort(IReadOnlyCollection<SchemaObject> objects)
    {
        var byKey = objects.ToDictionary(o => o.Key, StringComparer.Ordinal);
        var pending = objects.ToDictionary(o => o.Key, o => o.DependsOn.Count(d => d != o.Key && byKey.ContainsKey(d)), StringComparer.Ordinal);
        var dependents = new Dictionary<string, List<SchemaObject>>(StringComparer.Ordinal);
        foreach (var o in objects)
        {
            foreach (var d in o.DependsOn.Where(d => d != o.Key && byKey.ContainsKey(d)))
            {
                if (!dependents.TryGetValue(d, out var list))
                {
                    dependents[d] = list = new List<SchemaObject>();
                }
                list.Add(o);
            }
        }
        var comparer = Comparer<SchemaObject>.Create((a, b) =>
        {
            var c = a.Kind.CompareTo(b.Kind);
            if (c == 0) c = string.CompareOrdinal(a.Schema, b.Schema);
            if (c == 0) c = string.CompareOrdinal(a.Name, b.Name);
            return c == 0 ? string.CompareOrdinal(a.Key, b.Key) : c;
        });
        var ready = new SortedSet<SchemaObject>(objects.Where(o => pending[o.Key] == 0), comparer);
        var result = new List<SchemaObject>(objects.Count);
        var done = new HashSet<string>(StringComparer.Ordinal);
        while (result.Count < objects.Count)
        {
            if (ready.Count == 0)
            {
                // A cycle (rare: a function returning a table's row type used in that table's default).
                // Break it at the object that comes first by kind; the server reports what remains wrong.
                var next = objects.Where(o => !done.Contains(o.Key)).Min(comparer)!;
                ready.Add(next);
            }
            var o = ready.Min!;
            ready.Remove(o);
            if (!done.Add(o.Key))
            {
                continue;
            }
            result.Add(o);
            foreach (var dep in dependents.GetValueOrDefault(o.Key) ?? [])
            {
                if (--pending[dep.Key] == 0 && !done.Contains(dep.Key))
                {
                    ready.Add(dep);
                }
            }
        }
        return result;
    }
}
