using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// Applies the name mapping to a post-data statement: the table (and a foreign key's referenced table)
/// get their target names; renamed columns are renamed back to their source names for the duration of
/// the statement, in the same transaction, so that the server's own deparsed definition stays exact.
/// </summary>
public sealed class PostDataMapper(NameMapping mapping, IReadOnlyDictionary<string, string>? deparsedSchemaNames = null)
{
    // Names in expressions (a cast to a type, a function call) are printed by the source's deparse functions
    // as schema.name, with the schema quoted only when it must be: both spellings of a renamed schema are rewritten.
    private readonly List<(System.Text.RegularExpressions.Regex Pattern, string Replacement)> _schemaPrefixes = mapping.Schemas
        .SelectMany(m => new[] { Sql.Ident(m.Key), deparsedSchemaNames?.GetValueOrDefault(m.Key) ?? Sql.Ident(m.Key) }.Distinct()
            .Select(prefix => (new System.Text.RegularExpressions.Regex("(?<![\\w\"$.])" + System.Text.RegularExpressions.Regex.Escape(prefix) + "\\."), Sql.Ident(m.Value) + ".")))
        .ToList();

    public QualifiedName MapTable(QualifiedName table) => mapping.MapTable(table);

    /// <summary>The existing-object key on the target: mapped table and object name, always quoted.</summary>
    public string Key(PostDataStatement s) => $"{MapTable(s.Table)}|{Sql.Ident(s.ObjectName)}";

    public string Map(PostDataStatement s)
    {
        if (mapping.IsEmpty)
        {
            return s.Sql;
        }
        var sql = Replace(s.Sql, s.Table);
        if (s.ReferencedTable is { } referenced)
        {
            sql = Replace(sql, referenced);
        }
        foreach (var (pattern, replacement) in _schemaPrefixes)
        {
            sql = pattern.Replace(sql, replacement);
        }
        var involved = new[] { s.Table, s.ReferencedTable }.OfType<QualifiedName>().Distinct()
            .Where(t => mapping.Columns.TryGetValue(t, out var c) && c.Count > 0).ToList();
        if (involved.Count == 0)
        {
            return sql;
        }
        var before = new List<string>();
        var after = new List<string>();
        foreach (var t in involved)
        {
            foreach (var (from, to) in mapping.Columns[t])
            {
                before.Add($"ALTER TABLE {MapTable(t)} RENAME COLUMN {Sql.Ident(to)} TO {Sql.Ident(from)}");
                after.Add($"ALTER TABLE {MapTable(t)} RENAME COLUMN {Sql.Ident(from)} TO {Sql.Ident(to)}");
            }
        }
        // One command text: the server runs it as one implicit transaction.
        return string.Join(";\n", before.Append(sql).Concat(after));
    }

    /// <summary>Schema-qualified names in a deparsed expression, type or definition, under the renamed schemas' target names.</summary>
    public string MapSchemaNames(string sql)
    {
        foreach (var (pattern, replacement) in _schemaPrefixes)
        {
            sql = pattern.Replace(sql, replacement);
        }
        return sql;
    }

    private string Replace(string sql, QualifiedName table)
    {
        var mapped = MapTable(table);
        return mapped == table ? sql : sql.Replace(table.Quoted, mapped.Quoted, StringComparison.Ordinal);
    }
}
