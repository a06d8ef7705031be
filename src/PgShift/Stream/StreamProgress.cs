using PgShift.Progress;

namespace PgShift.Stream;

/// <summary>The change stream's live counters, written by the runner and its monitor; what is published is their <see cref="Snapshot"/>.</summary>
public sealed class StreamProgress
{
    public long DelayBytes { get; set; }
    public double DelaySeconds { get; set; }
    public bool CaughtUp { get; set; }
    public long ChangesApplied { get; set; }
    public long TransactionsApplied { get; set; }
    public double ChangesPerSecond { get; set; }
    public long SlotRetainedBytes { get; set; }
    public string? AppliedLsn { get; set; }
    public DateTime? RetryingUntil { get; set; }
    public string? LastError { get; set; }
    public bool Connected { get; set; }
    /// <summary>A verify holds the applier at this source position: transactions committed from there on wait.</summary>
    public string? PausedAt { get; set; }
    /// <summary>Large source transactions the server streamed while they ran, spooled and applied at their commit.</summary>
    public long SpooledTransactions;

    public StreamSnapshot Snapshot() => new(Connected ? StreamLink.Connected : StreamLink.Connecting, DelayBytes, DelaySeconds, ChangesApplied,
        AppliedLsn, SlotRetainedBytes, RetryingUntil, PausedAt, CaughtUp, TransactionsApplied, ChangesPerSecond, LastError);
}
