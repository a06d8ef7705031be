using PgShift.Connections;
using PgShift.Selection;

namespace PgShift.Schema;

public sealed class SchemaMigrationOptions
{
    public required ConnectionSpec Source { get; init; }
    public required ConnectionSpec Target { get; init; }
    public TableSelection Selection { get; init; } = TableSelection.All;
    public ColumnExclusions ExcludedColumns { get; init; } = new();
    public NameMapping Mapping { get; init; } = NameMapping.None;
    /// <summary>Connections used to build post-data objects in parallel.</summary>
    public int Jobs { get; init; } = 2;
    /// <summary>The task these objects belong to; its state on the target makes a re-run safe.</summary>
    public string TaskName { get; init; } = "default";
}

/// <summary>What a schema phase did: objects created, skipped by design (with the reason), and warnings.</summary>
public sealed class SchemaReport
{
    public List<string> Created { get; } = new();
    public List<string> AlreadyPresent { get; } = new();
    public List<(string Object, string Reason)> Skipped { get; } = new();
    public List<string> Warnings { get; } = new();
}
