namespace PgShift.Stream;

/// <summary>The change stream as a person watches it: delay, rate, and whether it is retrying.</summary>
public sealed class StreamProgress
{
    public long DelayBytes { get; set; }
    public double DelaySeconds { get; set; }
    public bool CaughtUp { get; set; }
    /// <summary>Caught up, and the source has no committed WAL left unflushed (what the cutover waits for).</summary>
    public bool CaughtUpAndSettled { get; set; }
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

    /// <summary>Caught up, or under a second behind; never while a verify holds the applier.</summary>
    public bool NotDelayed => Connected && PausedAt is null && (CaughtUp || DelaySeconds < 1 && DelayBytes < 16 * 1024 * 1024);

    public string Describe() => RetryingUntil is { } until
        ? $"retrying (until {until:u}): {LastError}"
        : !Connected
            ? "connecting"
            : PausedAt is { } paused
                ? $"paused by a verify at {paused}: delay {DelaySeconds:0.0} s, {DelayBytes / 1024.0:N0} KB ({ChangesApplied:N0} changes applied)"
            : NotDelayed
                ? $"not delayed ({ChangesApplied:N0} changes applied, {ChangesPerSecond:N0}/s)"
                : $"delay {DelaySeconds:0.0} s, {DelayBytes / 1024.0:N0} KB ({ChangesApplied:N0} changes applied, {ChangesPerSecond:N0}/s)";
}
