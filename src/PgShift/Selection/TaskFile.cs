using PgShift.Connections;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace PgShift.Selection;

/// <summary>
/// A task file (YAML, or JSON, which is YAML too): the task's name, its servers, the migration types and
/// which objects move. Command-line flags override what it says.
/// </summary>
public sealed class TaskFile
{
    public string? Task { get; set; }
    public string? Source { get; set; }
    public string? Target { get; set; }
    public List<string>? Types { get; set; }
    public int? Jobs { get; set; }
    public string? RetryWindow { get; set; }
    public List<string>? IncludeSchemas { get; set; }
    public List<string>? ExcludeSchemas { get; set; }
    public List<string>? IncludeTables { get; set; }
    public List<string>? ExcludeTables { get; set; }
    /// <summary>schema.table.column entries.</summary>
    public List<string>? ExcludeColumns { get; set; }
    public MappingSection? Mapping { get; set; }

    /// <summary>Renames: schemas {old: new}; tables {"schema.table": new_name}; columns {"schema.table.column": new_name}.</summary>
    public sealed class MappingSection
    {
        public Dictionary<string, string>? Schemas { get; set; }
        public Dictionary<string, string>? Tables { get; set; }
        public Dictionary<string, string>? Columns { get; set; }
    }

    public ColumnExclusions ToColumnExclusions()
    {
        var e = new ColumnExclusions();
        foreach (var c in ExcludeColumns ?? [])
        {
            e.Add(c);
        }
        return e;
    }

    public NameMapping ToNameMapping()
    {
        var m = new NameMapping();
        foreach (var (from, to) in Mapping?.Schemas ?? [])
        {
            m.Schemas[from] = to;
        }
        foreach (var (from, to) in Mapping?.Tables ?? [])
        {
            var parts = QualifiedNameParser.Split(from);
            if (parts.Count != 2)
            {
                throw new PgShiftException($"Mapped table '{from}' is not of the form schema.table.", "Write mapping.tables keys as schema.table.");
            }
            m.Tables[new Catalog.QualifiedName(parts[0], parts[1])] = to;
        }
        foreach (var (from, to) in Mapping?.Columns ?? [])
        {
            var parts = QualifiedNameParser.Split(from);
            if (parts.Count != 3)
            {
                throw new PgShiftException($"Mapped column '{from}' is not of the form schema.table.column.", "Write mapping.columns keys as schema.table.column.");
            }
            var table = new Catalog.QualifiedName(parts[0], parts[1]);
            if (!m.Columns.TryGetValue(table, out var cols))
            {
                m.Columns[table] = cols = new Dictionary<string, string>(StringComparer.Ordinal);
            }
            cols[parts[2]] = to;
        }
        return m;
    }

    public static TaskFile Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new PgShiftException($"Task file '{path}' does not exist.", "Check the path given to --task-file.");
        }
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .Build();
        try
        {
            return deserializer.Deserialize<TaskFile>(File.ReadAllText(path)) ?? new TaskFile();
        }
        catch (YamlException ex)
        {
            // The YAML error text can quote the line, which may hold a password.
            throw new PgShiftException($"Task file '{path}' cannot be read at line {ex.Start.Line}, column {ex.Start.Column}: {Redactor.Redact(ex.InnerException?.Message ?? ex.Message)}",
                "Fix the file; the README lists its keys (task, source, target, types, jobs, include_schemas, exclude_schemas, include_tables, exclude_tables).");
        }
    }

    public TableSelection ToSelection()
    {
        var s = new TableSelection();
        s.IncludeSchemas.AddRange((IncludeSchemas ?? []).Select(p => new NamePattern(p)));
        s.ExcludeSchemas.AddRange((ExcludeSchemas ?? []).Select(p => new NamePattern(p)));
        s.IncludeTables.AddRange((IncludeTables ?? []).Select(p => new NamePattern(p)));
        s.ExcludeTables.AddRange((ExcludeTables ?? []).Select(p => new NamePattern(p)));
        return s;
    }
}
