namespace PgShift.Settings;

/// <summary>How the change stream applies changes: batching, grouping, folding and the spooling of large transactions.</summary>
public sealed record ApplyOptions
{
    /// <summary>Statements sent in one round trip (they may span several source transactions).</summary>
    public int BatchStatements { get; init; } = 1000;
    /// <summary>Source transactions are grouped into one target transaction until it holds this many changes...</summary>
    public int GroupChanges { get; init; } = 20_000;
    /// <summary>... or has been open this long, so the delay stays low under light load.</summary>
    public TimeSpan GroupDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>Rows whose changes are folded into set statements before they are sent (0: every change is a statement).</summary>
    public int FoldRows { get; init; } = 10_000;
    /// <summary>Values held for the next round trip (folded or in statements), in characters: bounds memory when values are large.</summary>
    public long BatchChars { get; init; } = 16 * 1024 * 1024;
    /// <summary>
    /// Have the source stream large transactions while they run (PostgreSQL 14+) into a spool file each, applied at
    /// their commit: the server's decoding keeps pace with the transaction instead of starting at its commit.
    /// </summary>
    public bool SpoolLargeTransactions { get; init; } = true;
    /// <summary>Where spool files go (default: the system's temporary directory).</summary>
    public string? SpoolDirectory { get; init; }
    /// <summary>A streamed transaction larger than this on disk makes the stream restart without streaming.</summary>
    public long SpoolLimitBytes { get; init; } = 4L << 30;
    /// <summary>The source's logical_decoding_work_mem for the task's walsender (null: the server's), e.g. "64kB".</summary>
    public string? DecodingWorkMem { get; init; }
    /// <summary>Fault injection for tests: the stream behaves as if the source never sent a subtransaction's abort.</summary>
    internal bool LoseSubtransactionAborts { get; init; }
}
