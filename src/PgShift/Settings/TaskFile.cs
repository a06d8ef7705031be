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
    /// <summary>Give objects the source's owners (default) or leave the target's user owner of everything (false, as pg_restore --no-owner).</summary>
    public bool? Owners { get; set; }
    /// <summary>Bytes a second the copy may read from the source: 50MB, 500kB, 0 for no limit (<see cref="SettingValues.ByteRate(string, string)"/>).</summary>
    public string? MaxCopyRate { get; set; }
    /// <summary>Changes a second the stream may apply: 1000, 0 for no limit.</summary>
    public string? MaxApplyRate { get; set; }
    /// <summary>The port of the metrics and status page (migrate, cutover).</summary>
    public int? MetricsPort { get; set; }
    /// <summary>The address they listen on (default 127.0.0.1).</summary>
    public string? MetricsAddress { get; set; }
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
        var text = File.ReadAllText(path);
        // Checked first, so that a wrong key or value is said with its line and what belongs there (the deserializer's
        // own messages name .NET types).
        if (TaskFileProblems.Find(text) is { } problem)
        {
            throw Unreadable(path, problem);
        }
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .Build();
        try
        {
            return deserializer.Deserialize<TaskFile>(text) ?? new TaskFile();
        }
        catch (YamlException ex)
        {
            // Not found by the check above: the line and column, without the deserializer's words (which can quote a password).
            throw Unreadable(path, $"line {ex.Start.Line}, column {ex.Start.Column}: the value there is not of the kind its key takes");
        }
    }

    private static SettingsException Unreadable(string path, string problem) => new($"Task file '{path}' cannot be read: {problem}.",
        $"Fix the file; its keys are {TaskFileProblems.KeyList} (the README's 'Task file' section shows each).");

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
        OnConflict = OnConflict, SplitThresholdMb = SplitThresholdMb, LargeObjects = LargeObjects, Owners = Owners, Reverse = Reverse,
    }, StoredForm);

    public static TaskFile FromStoredJson(string json) => System.Text.Json.JsonSerializer.Deserialize<TaskFile>(json, StoredForm) ?? new TaskFile();

    /// <summary>Says any selection, exclusion or renaming at all (else a later command takes the task's own).</summary>
    public bool HasSelection()
        => new[] { IncludeSchemas, ExcludeSchemas, IncludeTables, ExcludeTables, ExcludeColumns }.Any(l => l is { Count: > 0 }) || LargeObjects is not null || Owners is not null
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
        if (Owners is { } owners && owners != (other.Owners ?? true))
        {
            static string Said(bool owners) => owners ? "the source's" : "the target user (--no-owner)";
            differences.Add($"owners: {Said(owners)} here, {Said(other.Owners ?? true)} for the task");
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
