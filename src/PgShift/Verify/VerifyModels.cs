using System.Diagnostics.CodeAnalysis;
using PgShift.Catalog;

using PgShift.Settings;

namespace PgShift.Verify;

/// <summary>The task's settings, for a verify.</summary>
public sealed record VerifyOptions : TaskSettings
{
    public VerifyOptions()
    {
    }

    [SetsRequiredMembers]
    public VerifyOptions(TaskSettings settings) : base(settings)
    {
    }

    /// <summary>How long to wait for a running change stream to reach the verify's source position.</summary>
    public TimeSpan HoldTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Rows per compared chunk of a table with an integer key (an estimate: chunks are key ranges).</summary>
    public long ChunkRows { get; init; } = 200_000;
    /// <summary>A chunk that differs is read again this many times before it is reported (0: the reads are exact already).</summary>
    public int Rechecks { get; init; }
    public TimeSpan RecheckDelay { get; init; } = TimeSpan.FromSeconds(1);
}

public sealed record ChunkDifference(string Range, long SourceRows, long TargetRows, IReadOnlyList<string> ExampleKeys);

public sealed record TableVerification(string Table, string TargetTable, long SourceRows, long TargetRows, int Chunks, IReadOnlyList<ChunkDifference> Differences)
{
    public bool Equal => Differences.Count == 0;
}

public sealed record SequenceVerification(string Sequence, long? SourceValue, long? TargetValue, string State)
{
    public bool Equal => State is "equal" or "not synced yet";
}

/// <summary>The large objects of both sides compared.</summary>
/// <param name="Differences">The first differences, by OID, in words; <paramref name="DifferenceCount"/> counts them all.</param>
/// <param name="Synchronised">The task has cut over (or streams nothing): until then, the cutover has yet to carry their changes.</param>
public sealed record LargeObjectVerification(int SourceObjects, int TargetObjects, IReadOnlyList<string> Differences, int DifferenceCount, bool Synchronised)
{
    public bool Equal => DifferenceCount == 0 || !Synchronised;
}

/// <param name="LargeObjects">Null when the task does not copy large objects.</param>
public sealed record VerifyReport(IReadOnlyList<TableVerification> Tables, IReadOnlyList<string> MissingObjects, IReadOnlyList<string> ExtraObjects,
    IReadOnlyList<SequenceVerification> Sequences, double Seconds, LargeObjectVerification? LargeObjects = null,
    IReadOnlyList<ConfigTableVerification>? ConfigTables = null)
{
    public bool Equal => Tables.All(t => t.Equal) && MissingObjects.Count == 0 && ExtraObjects.Count == 0 && Sequences.All(s => s.Equal)
        && LargeObjects?.Equal != false && (ConfigTables ?? []).All(c => c.Equal);
}

/// <summary>The user's rows of one extension configuration table on both sides.</summary>
public sealed record ConfigTableVerification(string Table, string Extension, long SourceRows, long TargetRows, string State)
{
    public bool Equal => State is "equal" or "not synced yet";
}

/// <summary>One table as verify reads it: the columns in canonical order on both sides, and its key.</summary>
public sealed record VerifyTable(QualifiedName Source, QualifiedName Target, IReadOnlyList<string> SourceColumns, IReadOnlyList<string> TargetColumns,
    string? IntegerKey, string? TargetIntegerKey, long EstimatedRows);
