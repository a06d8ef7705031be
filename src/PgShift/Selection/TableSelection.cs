using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>
/// Which schemas and tables a task moves. Table patterns are <c>schema.table</c>; a pattern without a dot
/// matches that table name in any schema. An empty include list includes everything not excluded.
/// </summary>
public sealed class TableSelection
{
    /// <summary>Schemas that are never user data.</summary>
    public static readonly IReadOnlySet<string> SystemSchemas = new HashSet<string>(StringComparer.Ordinal)
    {
        "pg_catalog", "information_schema", "pg_toast", StateSchemaName,
    };

    public const string StateSchemaName = "pgshift";

    public List<NamePattern> IncludeSchemas { get; } = new();
    public List<NamePattern> ExcludeSchemas { get; } = new();
    public List<NamePattern> IncludeTables { get; } = new();
    public List<NamePattern> ExcludeTables { get; } = new();

    public static TableSelection All { get; } = new();

    public static bool IsSystemSchema(string schema)
        => SystemSchemas.Contains(schema) || schema.StartsWith("pg_temp_", StringComparison.Ordinal) || schema.StartsWith("pg_toast_temp_", StringComparison.Ordinal);

    public bool IncludesSchema(string schema)
    {
        if (IsSystemSchema(schema) || ExcludeSchemas.Any(p => p.IsMatch(schema)))
        {
            return false;
        }
        return IncludeSchemas.Count == 0 || IncludeSchemas.Any(p => p.IsMatch(schema));
    }

    public bool IncludesTable(QualifiedName table)
    {
        if (!IncludesSchema(table.Schema) || ExcludeTables.Any(p => MatchesTable(p, table)))
        {
            return false;
        }
        return IncludeTables.Count == 0 || IncludeTables.Any(p => MatchesTable(p, table));
    }

    private static bool MatchesTable(NamePattern pattern, QualifiedName table)
    {
        var text = pattern.Pattern;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return pattern.IsMatch(table.Name);
        }
        return new NamePattern(text[..dot]).IsMatch(table.Schema) && new NamePattern(text[(dot + 1)..]).IsMatch(table.Name);
    }
}
