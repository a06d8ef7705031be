namespace PgShift.Progress;

public enum TableCopyState
{
    Waiting,
    Copying,
    Done,
    /// <summary>Copied by an earlier run of the task.</summary>
    Skipped,
}

/// <summary>One table's copy at one moment.</summary>
/// <param name="Table">The source table, as a person reads it.</param>
/// <param name="EstimatedBytes">The table's size on the source (COPY's output is not its disk size, so an estimate).</param>
/// <param name="BytesPerSecond">The table's rate since its copy started.</param>
public sealed record TableCopySnapshot(string Table, long Rows, long Bytes, long EstimatedBytes, TableCopyState State, double BytesPerSecond)
{
    /// <summary>Time left at the current rate; none once done or when there is no rate yet.</summary>
    public TimeSpan? Eta => State is TableCopyState.Copying ? Estimate.TimeLeft(EstimatedBytes, Bytes, BytesPerSecond) : null;
}

/// <summary>The whole copy at one moment.</summary>
/// <param name="Seconds">Time since the copy started (to its end, once finished).</param>
/// <param name="LargeObjects">The large objects' copy, once it has begun (after the tables).</param>
public sealed record CopySnapshot(IReadOnlyList<TableCopySnapshot> Tables, double Seconds, LargeObjectsSnapshot? LargeObjects = null)
{
    public long Rows => Tables.Sum(t => t.Rows);
    public long Bytes => Tables.Sum(t => t.Bytes);
    /// <summary>Counts a table that outgrew its estimate at its size so far.</summary>
    public long EstimatedBytes => Tables.Sum(t => Math.Max(t.EstimatedBytes, t.Bytes));
    public int TablesDone => Tables.Count(t => t.State is TableCopyState.Done or TableCopyState.Skipped);
    public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : 0;
    /// <summary>
    /// Time left: what is left of the tables not done yet. A table done counts what it copied, not its estimate (COPY's
    /// output is smaller than the disk size), and one copied by an earlier run nothing; none once every table is done.
    /// </summary>
    public TimeSpan? Eta => TablesDone == Tables.Count ? null
        : Estimate.TimeLeft(Tables.Sum(t => t.State switch
        {
            TableCopyState.Done => t.Bytes,
            TableCopyState.Skipped => 0,
            _ => Math.Max(t.EstimatedBytes, t.Bytes),
        }), Bytes, BytesPerSecond);
}

/// <summary>The one rule for a time left.</summary>
public static class Estimate
{
    /// <summary>What is left of <paramref name="total"/> at <paramref name="perSecond"/>; null when nothing is left or there is no rate.</summary>
    public static TimeSpan? TimeLeft(long total, long done, double perSecond)
        => perSecond > 0 && total > done ? TimeSpan.FromSeconds((total - done) / perSecond) : null;
}
