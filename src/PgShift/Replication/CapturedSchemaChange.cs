using System.Text.Json;
using PgShift.Catalog;

namespace PgShift.Replication;

/// <summary>A column as the capture saw it: <see cref="Num"/> (attnum) is what tells a renamed column from a dropped and an added one.</summary>
public sealed record CapturedColumn(int Num, string Name, string Type, uint TypeOid, bool NotNull, string? Default, string Identity, string Generated,
    bool Local, string? Comment, string? Collation);

public sealed record CapturedConstraint(string Name, string Type, string Def, bool Local, string? Comment);

public sealed record CapturedIndex(string Name, string Def, string? Comment);

public sealed record CapturedTrigger(string Name, string Def, string Enabled);

public sealed record CapturedName(string Schema, string Name)
{
    public QualifiedName ToName() => new(Schema, Name);
}

/// <summary>A table's shape at one moment (see <see cref="SchemaCapture"/>).</summary>
public sealed record OwnedSequence(string Column, string Sequence);

public sealed record CapturedTable(uint Oid, string Schema, string Name, string Kind, string Persistence, string ReplIdent, string Owner,
    List<string>? Options, string? Comment, long? Filenode, List<OwnedSequence>? OwnedSequences, string? PartKey, CapturedName? PartitionOf, string? Bound,
    List<CapturedColumn> Columns, List<CapturedConstraint> Constraints, List<CapturedIndex> Indexes, List<CapturedTrigger> Triggers)
{
    public QualifiedName QualifiedName => new(Schema, Name);
    /// <summary>The columns that pgoutput sends (generated ones are not), in order, with their source type oids.</summary>
    public IEnumerable<CapturedColumn> StreamedColumns => Columns.Where(c => c.Generated is "" or null);
}

public sealed record CapturedSequence(string Type, long Start, long Increment, long Min, long Max, long Cache, bool Cycle);

/// <summary>A view, materialized view, sequence, function, procedure or type at one moment.</summary>
public sealed record CapturedObject(string Kind, string Schema, string Name, string Identity, string Owner, string? Comment, List<string>? Options,
    string? Def, CapturedSequence? Sequence, List<string>? Labels);

public sealed record CapturedCommand(string Tag, string Type, string? Identity, string? Schema, string? Class, uint Oid, int Sub);

public sealed record DroppedObject(string Type, string? Identity, string? Schema, bool Original);

/// <summary>An object before and after the statement: no before for one created, no after for one dropped.</summary>
public sealed record ShapeChange<T>(T? Before, T? After) where T : class;

/// <summary>One DDL statement on the source, as the capture recorded it in the statement's own transaction.</summary>
public sealed record CapturedSchemaChange(long Id, string Tag, string Statement, List<ShapeChange<CapturedTable>> Tables,
    List<ShapeChange<CapturedObject>> Objects, List<CapturedCommand> Commands, List<DroppedObject> Dropped)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The statement as a person reads it in an error: on one line, cut short.</summary>
    public string StatementText => Statement.ReplaceLineEndings(" ").Trim() is var s && s.Length > 300 ? s[..300] + "..." : Statement.ReplaceLineEndings(" ").Trim();

    /// <summary>Reads a row of the capture table, given its values by column name.</summary>
    public static CapturedSchemaChange Parse(IReadOnlyDictionary<string, string?> row)
    {
        T Read<T>(string column) => JsonSerializer.Deserialize<T>(row.GetValueOrDefault(column) ?? "[]", Json)!;
        return new CapturedSchemaChange(long.Parse(row["id"]!, System.Globalization.CultureInfo.InvariantCulture), row["tag"]!, row.GetValueOrDefault("statement") ?? "",
            Read<List<ShapeChange<CapturedTable>>>("tables"), Read<List<ShapeChange<CapturedObject>>>("objects"),
            Read<List<CapturedCommand>>("commands"), Read<List<DroppedObject>>("dropped"));
    }
}
