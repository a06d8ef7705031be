using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>
/// Which schemas and tables a task moves. Table patterns are <c>schema.table</c>; a pattern without a dot
/// matches that table name in any schema. An empty include list includes everything not excluded. Names may be
/// double-quoted as in SQL (see <see cref="NamePattern"/>).
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

    private static bool MatchesTable(NamePattern pattern, QualifiedName table) => pattern.IsMatch(table);

    /// <summary>Refuses patterns of the wrong shape: a schema pattern is one name, a table pattern one or two (schema.table).</summary>
    public void Validate()
    {
        foreach (var (patterns, option) in new[] { (IncludeSchemas, "--include-schema"), (ExcludeSchemas, "--exclude-schema") })
        {
            foreach (var p in patterns.Where(p => p.PartCount != 1))
            {
                throw new PgShiftException($"Schema pattern '{p}' ({option}) has {p.PartCount} dot-separated names; a schema has one.",
                    $"Double-quote a schema name that contains a dot, as in SQL: {option} '\"{p.Pattern.Replace("\"", "\"\"", StringComparison.Ordinal)}\"'.");
            }
        }
        foreach (var (patterns, option) in new[] { (IncludeTables, "--include-table"), (ExcludeTables, "--exclude-table") })
        {
            foreach (var p in patterns.Where(p => p.PartCount > 2))
            {
                throw new PgShiftException($"Table pattern '{p}' ({option}) has {p.PartCount} dot-separated names; a table is schema.table, or a table name alone for any schema.",
                    $"Double-quote names that contain dots, as in SQL: {option} '\"my.schema\".\"t.1\"'.");
            }
        }
    }

    /// <summary>Every pattern, with the option that gave it (for messages that name it).</summary>
    public IEnumerable<(NamePattern Pattern, string Option)> Patterns =>
        IncludeSchemas.Select(p => (p, "--include-schema")).Concat(ExcludeSchemas.Select(p => (p, "--exclude-schema")))
            .Concat(IncludeTables.Select(p => (p, "--include-table"))).Concat(ExcludeTables.Select(p => (p, "--exclude-table")));
}
