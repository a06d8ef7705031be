using PgShift.Catalog;
using PgShift.Selection;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace PgShift.Settings;

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
    /// <summary>error (stop the task) or ignore: what a change that does not fit the target does.</summary>
    public string? OnConflict { get; set; }
    /// <summary>Tables larger than this (MB on disk) are copied in ranges by several workers.</summary>
    public double? SplitThresholdMb { get; set; }
    /// <summary>Copy the database's large objects (and synchronise them at cutover); unset: <see cref="CopiesLargeObjects"/>.</summary>
    public bool? LargeObjects { get; set; }
    /// <summary>The cutover prepares the way back (as <c>pgshift cutover --reverse</c>): a slot on the target, and the reverse task's state on the source.</summary>
    public bool? Reverse { get; set; }

    /// <summary>
    /// Large objects belong to the database, not to a table: as pg_dump does, they move with the whole database (exclusions
    /// allowed) and stay behind when the task names the schemas or tables it moves, unless large_objects says otherwise.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool CopiesLargeObjects => LargeObjects ?? !(IncludeSchemas is { Count: > 0 } || IncludeTables is { Count: > 0 });

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
            m.Tables[new QualifiedName(parts[0], parts[1])] = to;
        }
        foreach (var (from, to) in Mapping?.Columns ?? [])
        {
            var parts = QualifiedNameParser.Split(from);
            if (parts.Count != 3)
            {
                throw new PgShiftException($"Mapped column '{from}' is not of the form schema.table.column.", "Write mapping.columns keys as schema.table.column.");
            }
            var table = new QualifiedName(parts[0], parts[1]);
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
                "Fix the file; the README lists its keys (task, source, target, types, jobs, include_schemas, exclude_schemas, include_tables, exclude_tables, large_objects, reverse).");
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions StoredForm = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The task's settings as stored with its state: everything but the servers and the name (which hold no password either way).</summary>
    public string ToStoredJson() => System.Text.Json.JsonSerializer.Serialize(new TaskFile
    {
        Types = Types, Jobs = Jobs, RetryWindow = RetryWindow, IncludeSchemas = IncludeSchemas, ExcludeSchemas = ExcludeSchemas,
        IncludeTables = IncludeTables, ExcludeTables = ExcludeTables, ExcludeColumns = ExcludeColumns, Mapping = Mapping,
        OnConflict = OnConflict, SplitThresholdMb = SplitThresholdMb, LargeObjects = LargeObjects, Reverse = Reverse,
    }, StoredForm);

    public static TaskFile FromStoredJson(string json) => System.Text.Json.JsonSerializer.Deserialize<TaskFile>(json, StoredForm) ?? new TaskFile();

    /// <summary>Says any selection, exclusion or renaming at all (else a later command takes the task's own).</summary>
    public bool HasSelection()
        => new[] { IncludeSchemas, ExcludeSchemas, IncludeTables, ExcludeTables, ExcludeColumns }.Any(l => l is { Count: > 0 }) || LargeObjects is not null
           || Mapping is { } m && new[] { m.Schemas, m.Tables, m.Columns }.Any(d => d is { Count: > 0 });

    /// <summary>How this selection (schemas, tables, columns, renaming) differs from <paramref name="other"/>'s, in words; empty when the same.</summary>
    public List<string> SelectionDifferences(TaskFile other)
    {
        var differences = new List<string>();
        void Compare(string what, IEnumerable<string>? mine, IEnumerable<string>? theirs)
        {
            var a = (mine ?? []).Order(StringComparer.Ordinal).ToList();
            var b = (theirs ?? []).Order(StringComparer.Ordinal).ToList();
            if (!a.SequenceEqual(b, StringComparer.Ordinal))
            {
                differences.Add($"{what}: [{string.Join(", ", a)}] here, [{string.Join(", ", b)}] for the task");
            }
        }
        static IEnumerable<string>? Pairs(Dictionary<string, string>? d) => d?.Select(kv => $"{kv.Key} -> {kv.Value}");
        Compare("include schemas", IncludeSchemas, other.IncludeSchemas);
        Compare("exclude schemas", ExcludeSchemas, other.ExcludeSchemas);
        Compare("include tables", IncludeTables, other.IncludeTables);
        Compare("exclude tables", ExcludeTables, other.ExcludeTables);
        Compare("exclude columns", ExcludeColumns, other.ExcludeColumns);
        Compare("renamed schemas", Pairs(Mapping?.Schemas), Pairs(other.Mapping?.Schemas));
        Compare("renamed tables", Pairs(Mapping?.Tables), Pairs(other.Mapping?.Tables));
        Compare("renamed columns", Pairs(Mapping?.Columns), Pairs(other.Mapping?.Columns));
        // Said in so many words only: a selection that repeats the task's include patterns need not repeat --large-objects.
        if (LargeObjects is { } copies && copies != other.CopiesLargeObjects)
        {
            static string Said(bool copies) => copies ? "copied" : "not copied";
            differences.Add($"large objects: {Said(copies)} here, {Said(other.CopiesLargeObjects)} for the task");
        }
        return differences;
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
