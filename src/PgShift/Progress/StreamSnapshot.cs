namespace PgShift.Progress;

/// <summary>Whether a process applies the stream's changes.</summary>
public enum StreamLink
{
    /// <summary>No process has recorded the stream lately (seen from `pgshift status`).</summary>
    NotRunning,
    /// <summary>The task's process is (re)connecting to the source.</summary>
    Connecting,
    Connected,
}

/// <summary>What a person is told about the stream, decided in one place.</summary>
public enum StreamState
{
    Retrying,
    NotRunning,
    Connecting,
    /// <summary>A verify holds the applier at a source position.</summary>
    Paused,
    NotDelayed,
    Delayed,
}

/// <summary>The change stream at one moment.</summary>
/// <param name="CaughtUp">Everything the source had flushed is applied (known to the running task only).</param>
/// <param name="ChangesPerSecond">Known to the running task only.</param>
/// <param name="PausedAt">The source position a verify holds the applier at: transactions committed from there on wait.</param>
/// <param name="LastError">Why the stream is retrying (known to the running task only).</param>
public sealed record StreamSnapshot(StreamLink Link, long DelayBytes, double DelaySeconds, long ChangesApplied, string? AppliedLsn,
    long SlotRetainedBytes, DateTime? RetryingUntil = null, string? PausedAt = null, bool CaughtUp = false,
    long TransactionsApplied = 0, double? ChangesPerSecond = null, string? LastError = null)
{
    /// <summary>How far behind "not delayed" may be: under a second, and under 16 MB of WAL.</summary>
    public static readonly TimeSpan NotDelayedSeconds = TimeSpan.FromSeconds(1);
    public const long NotDelayedBytes = 16 * 1024 * 1024;

    /// <summary>Caught up, or under a second (and 16 MB) behind; never while retrying, not connected, or held by a verify.</summary>
    public bool NotDelayed => Link == StreamLink.Connected && RetryingUntil is null && PausedAt is null
        && (CaughtUp || DelaySeconds < NotDelayedSeconds.TotalSeconds && DelayBytes < NotDelayedBytes);

    public StreamState State => RetryingUntil is not null ? StreamState.Retrying
        : Link == StreamLink.NotRunning ? StreamState.NotRunning
        : Link == StreamLink.Connecting ? StreamState.Connecting
        : PausedAt is not null ? StreamState.Paused
        : NotDelayed ? StreamState.NotDelayed
        : StreamState.Delayed;
}
