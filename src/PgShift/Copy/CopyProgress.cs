using PgShift.Catalog;
using PgShift.LargeObjects;
using PgShift.Progress;

namespace PgShift.Copy;

/// <summary>Live counters of one table's copy, updated by the workers; what is published is their <see cref="Snapshot"/>.</summary>
public sealed class TableProgress(QualifiedName table, long estimatedBytes, long estimatedRows)
{
    private long _rows;
    private long _bytes;

    public QualifiedName Table { get; } = table;
    public long EstimatedBytes { get; } = estimatedBytes;
    public long EstimatedRows { get; } = estimatedRows;
    public long Rows => Interlocked.Read(ref _rows);
    public long Bytes => Interlocked.Read(ref _bytes);
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    public bool Skipped { get; set; }
    public bool Done => FinishedAt is not null;

    public void Add(long rows, long bytes)
    {
        Interlocked.Add(ref _rows, rows);
        Interlocked.Add(ref _bytes, bytes);
    }

    /// <summary>A retried unit starts its counts again.</summary>
    public void Subtract(long rows, long bytes) => Add(-rows, -bytes);

    public double BytesPerSecond => StartedAt is { } s && (FinishedAt ?? DateTime.UtcNow) - s is { TotalSeconds: > 0.05 } d ? Bytes / d.TotalSeconds : 0;

    public TableCopySnapshot Snapshot() => new(Table.ToString(), Rows, Bytes, EstimatedBytes,
        Skipped ? TableCopyState.Skipped : Done ? TableCopyState.Done : StartedAt is null ? TableCopyState.Waiting : TableCopyState.Copying, BytesPerSecond);
}

/// <summary>The whole copy phase's live counters; what is published is their <see cref="Snapshot"/>.</summary>
public sealed class CopyProgress
{
    private volatile IReadOnlyList<TableProgress>? _tables;

    /// <summary>The tables of the current run: a list never changed once published, so a snapshot reads it while the workers count.</summary>
    public IReadOnlyList<TableProgress> Tables => _tables ?? [];
    public DateTime StartedAt { get; private set; } = DateTime.UtcNow;
    public DateTime? FinishedAt { get; set; }
    public long Rows => Tables.Sum(t => t.Rows);
    public long Bytes => Tables.Sum(t => t.Bytes);
    public double Seconds => ((FinishedAt ?? DateTime.UtcNow) - StartedAt).TotalSeconds;

    /// <summary>The large objects' copy (or, at cutover, their synchronisation), once it has begun.</summary>
    public LargeObjectProgress LargeObjects { get; } = new();

    /// <summary>The copy as it stands; null before it begins.</summary>
    public CopySnapshot? Snapshot() => _tables is { } tables
        ? new CopySnapshot([.. tables.Select(t => t.Snapshot())], Seconds, LargeObjects.Snapshot())
        : null;

    /// <summary>Starts a run over these tables (a copy resumed in the same process starts again).</summary>
    public void Begin(IReadOnlyList<TableProgress> tables)
    {
        StartedAt = DateTime.UtcNow;
        FinishedAt = null;
        _tables = tables;
    }
}
