using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>Columns of a table that are not migrated (neither created on the target nor copied).</summary>
public sealed class ColumnExclusions
{
    public Dictionary<QualifiedName, HashSet<string>> ByTable { get; } = new();

    public bool IsEmpty => ByTable.Count == 0;

    /// <summary>Every excluded column as (table, column).</summary>
    public IEnumerable<(QualifiedName Table, string ColumnName)> All => ByTable.SelectMany(kv => kv.Value.Select(c => (kv.Key, c)));

    public bool Excludes(QualifiedName table, string column) => ByTable.TryGetValue(table, out var s) && s.Contains(column);

    /// <summary>Adds "schema.table.column" (names may be double-quoted when they contain dots).</summary>
    public void Add(string qualifiedColumn)
    {
        var parts = QualifiedNameParser.Split(qualifiedColumn);
        if (parts.Count != 3 || parts.Any(p => p.Length == 0))
        {
            throw new PgShiftException($"Excluded column '{qualifiedColumn}' is not of the form schema.table.column.",
                "Write it as schema.table.column, with double quotes around names that contain dots, e.g. public.\"my.table\".col.");
        }
        var table = new QualifiedName(parts[0], parts[1]);
        if (!ByTable.TryGetValue(table, out var set))
        {
            ByTable[table] = set = new HashSet<string>(StringComparer.Ordinal);
        }
        set.Add(parts[2]);
    }
}

/// <summary>Splits dotted names: a.b.c, with "double-quoted" parts that may hold dots and "" for a quote.</summary>
public static class QualifiedNameParser
{
    public static List<string> Split(string text)
    {
        var parts = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == '.')
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }
        if (quoted)
        {
            throw new PgShiftException($"Name '{text}' has a double quote that is not closed.",
                "Close the quoted name, and write a quote inside it as two: public.t.\"we\"\"ird\" for the column we\"ird.");
        }
        parts.Add(current.ToString());
        return parts;
    }
}
