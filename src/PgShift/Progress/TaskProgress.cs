namespace PgShift.Progress;

/// <summary>
/// A task's progress at one moment, as the engine publishes it (and as `pgshift status` rebuilds it from the task's
/// state): immutable, so whoever renders it reads a consistent picture while the task goes on.
/// </summary>
/// <param name="Phase">The phase the task is in (null before it starts).</param>
/// <param name="Copy">The full copy, once it has begun.</param>
/// <param name="Stream">The change stream, once it has begun.</param>
public sealed record TaskProgress(string Task, TaskPhase? Phase, CopySnapshot? Copy, StreamSnapshot? Stream)
{
    /// <summary>The throttles in force.</summary>
    public RateLimits Limits { get; init; } = RateLimits.None;

    /// <summary>The retries and errors of the running task (known to the running task only).</summary>
    public IncidentsSnapshot Incidents { get; init; } = IncidentsSnapshot.None;
}
