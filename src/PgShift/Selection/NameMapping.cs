using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>
/// Renames on the target: schemas, tables (the table's new name; its schema follows the schema mapping)
/// and columns. Anything not mapped keeps its source name.
/// </summary>
public sealed class NameMapping
{
    public Dictionary<string, string> Schemas { get; } = new(StringComparer.Ordinal);
    /// <summary>Key: source table; value: the new table name (without schema).</summary>
    public Dictionary<QualifiedName, string> Tables { get; } = new();
    /// <summary>Key: source table; value: source column name → new column name.</summary>
    public Dictionary<QualifiedName, Dictionary<string, string>> Columns { get; } = new();

    public static NameMapping None { get; } = new();

    public bool IsEmpty => Schemas.Count == 0 && Tables.Count == 0 && Columns.Count == 0;

    public string MapSchema(string schema) => Schemas.GetValueOrDefault(schema, schema);

    public QualifiedName MapTable(QualifiedName table) => new(MapSchema(table.Schema), Tables.GetValueOrDefault(table, table.Name));

    public string MapColumn(QualifiedName table, string column)
        => Columns.TryGetValue(table, out var cols) && cols.TryGetValue(column, out var mapped) ? mapped : column;

    public bool RenamesColumnsOf(QualifiedName table) => Columns.TryGetValue(table, out var c) && c.Count > 0;
}
