using System.Text.Json;
using PgShift.Catalog;

namespace PgShift.Replication;

/// <summary>A column as the capture saw it: <see cref="Num"/> (attnum) is what tells a renamed column from a dropped and an added one.</summary>
public sealed record CapturedColumn(int Num, string Name, string Type, uint TypeOid, bool NotNull, string? Default, string Identity, string Generated,
    bool Local, string? Comment, string? Collation);

public sealed record CapturedConstraint(string Name, string Type, string Def, bool Local, string? Comment);

public sealed record CapturedIndex(string Name, string Def, string? Comment, bool Inherited = false);

public sealed record CapturedTrigger(string Name, string Def, string Enabled);

public sealed record CapturedName(string Schema, string Name)
{
    public QualifiedName ToName() => new(Schema, Name);
}

/// <summary>A table's shape at one moment (see <see cref="SchemaCapture"/>).</summary>
public sealed record OwnedSequence(string Column, string Sequence);

public sealed record CapturedTable(uint Oid, string Schema, string Name, string Kind, string Persistence, string ReplIdent, string Owner,
    List<string>? Options, string? Comment, List<OwnedSequence>? OwnedSequences, string? PartKey, CapturedName? PartitionOf, string? Bound,
    List<CapturedColumn> Columns, List<CapturedConstraint> Constraints, List<CapturedIndex> Indexes, List<CapturedTrigger> Triggers,
    string? Deparsed = null)
{
    public QualifiedName QualifiedName => new(Schema, Name);
    /// <summary>The columns that pgoutput sends (generated ones are not), in order, with their source type oids.</summary>
    public IEnumerable<CapturedColumn> StreamedColumns => Columns.Where(c => c.Generated is "" or null);
}

public sealed record CapturedSequence(string Type, long Start, long Increment, long Min, long Max, long Cache, bool Cycle);

/// <summary>A view, materialized view, sequence, function, procedure or type at one moment.</summary>
public sealed record CapturedObject(string Kind, string Schema, string Name, string Identity, string Owner, string? Comment, List<string>? Options,
    string? Def, CapturedSequence? Sequence, List<string>? Labels);

public sealed record CapturedCommand(string Tag, string? Type, string? Identity, string? Schema, string? Class, uint? Oid, int? Sub);

public sealed record DroppedObject(string? Type, string? Identity, string? Schema, bool Original);

/// <summary>An object before and after the statement: no before for one created, no after for one dropped.</summary>
public sealed record ShapeChange<T>(T? Before, T? After) where T : class;

/// <summary>One DDL statement on the source, as the capture recorded it in the statement's own transaction.</summary>
public sealed record CapturedSchemaChange(long Id, string Tag, string Statement, List<ShapeChange<CapturedTable>> Tables,
    List<ShapeChange<CapturedObject>> Objects, List<CapturedCommand> Commands, List<DroppedObject> Dropped)
{
    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString };

    /// <summary>The statement as a person reads it in an error: on one line, cut short.</summary>
    public string StatementText => Statement.ReplaceLineEndings(" ").Trim() is var s && s.Length > 300 ? s[..300] + "..." : Statement.ReplaceLineEndings(" ").Trim();

    /// <summary>Reads a row of the capture table, given its values by column name.</summary>
    public static CapturedSchemaChange Parse(IReadOnlyDictionary<string, string?> row)
    {
        T Read<T>(string column) => JsonSerializer.Deserialize<T>(row.GetValueOrDefault(column) ?? "[]", JsonOptions)!;
        return new CapturedSchemaChange(long.Parse(row["id"]!, System.Globalization.CultureInfo.InvariantCulture), row["tag"]!, row.GetValueOrDefault("statement") ?? "",
            Read<List<ShapeChange<CapturedTable>>>("tables"), Read<List<ShapeChange<CapturedObject>>>("objects"),
            Read<List<CapturedCommand>>("commands"), Read<List<DroppedObject>>("dropped"));
    }
}

/// <summary>What the target does for one captured schema change, at its place in the stream.</summary>
public sealed class SchemaChangePlan
{
    /// <summary>Statements for the target, in order, run in the apply transaction that records the change's position.</summary>
    public List<string> Statements { get; } = new();
    /// <summary>Task tables whose name or streamed columns changed: (source name before, shape after).</summary>
    public List<(QualifiedName Before, CapturedTable After)> Reshaped { get; } = new();
    /// <summary>Task tables dropped on the source (and so on the target), by source name.</summary>
    public List<QualifiedName> Dropped { get; } = new();
    /// <summary>Tables that join the task (created, or attached under a task table): copied from a snapshot of their own once the change commits.</summary>
    public List<uint> NewTables { get; } = new();
    /// <summary>Task tables the statement rewrote on the source (a new column's volatile default, a type change's USING): copied again.</summary>
    public List<uint> Recopy { get; } = new();
    /// <summary>What was not followed, for the log: statements that change nothing the target's rows depend on.</summary>
    public List<string> Notes { get; } = new();
    public bool IsEmpty => Statements.Count == 0 && Reshaped.Count == 0 && Dropped.Count == 0 && NewTables.Count == 0 && Recopy.Count == 0;
}

