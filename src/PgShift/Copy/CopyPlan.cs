using PgShift.Catalog;

namespace PgShift.Copy;

/// <summary>One leaf table to copy: where from, where to, which columns, in which format, and how it is split.</summary>
public sealed class TableCopyPlan
{
    public required uint SourceOid { get; init; }
    public required QualifiedName Source { get; init; }
    public required QualifiedName Target { get; init; }
    /// <summary>Source column names, in order; generated and excluded columns are not among them.</summary>
    public required IReadOnlyList<string> SourceColumns { get; init; }
    public required IReadOnlyList<string> TargetColumns { get; init; }
    /// <summary>Every column the change stream will carry for this table ("name:type oid"), excluded ones too, as at the copy.</summary>
    public IReadOnlyList<string> StreamColumns { get; init; } = [];
    /// <summary>Binary unless a column's binary form carries type oids that differ between servers (arrays of user types, composites) or has none.</summary>
    public required bool Binary { get; init; }
    public required long EstimatedBytes { get; init; }
    public required long EstimatedRows { get; init; }
    /// <summary>Unlogged tables write no WAL: they cannot be published, and are copied again at cutover.</summary>
    public bool Unlogged { get; init; }
    /// <summary>WHERE clauses of the ranges copied in parallel; a single null entry copies the whole table at once.</summary>
    public IReadOnlyList<string?> Ranges { get; set; } = [null];

    public bool IsSplit => Ranges.Count > 1;

    public string SourceKey => Source.ToString();
}

/// <summary>One unit of work for a copy worker: a whole table, or one range of a split table.</summary>
public sealed record CopyUnit(TableCopyPlan Table, string? Range, int Index);
