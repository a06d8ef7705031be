namespace PgShift.Connections;

/// <summary>
/// The waits of one outage: exponential backoff from <paramref name="firstDelay"/> up to <paramref name="maxDelay"/>,
/// until the retry window that opened at the outage's first failure closes.
/// </summary>
public sealed class Outage(TimeSpan window, TimeSpan firstDelay, TimeSpan maxDelay)
{
    private DateTimeOffset? _since;
    private TimeSpan? _delay;

    /// <summary>The next wait.</summary>
    public TimeSpan Delay => _delay ?? firstDelay;

    /// <summary>A failure has been recorded and the outage has not been declared over.</summary>
    public bool Ongoing => _since is not null;

    /// <summary>When the window closes (from now, before the first failure).</summary>
    public DateTimeOffset Deadline => (_since ?? DateTimeOffset.UtcNow) + window;

    /// <summary>Records a failure; false when the window leaves no room for another wait, and the work should give up.</summary>
    public bool Failed()
    {
        _since ??= DateTimeOffset.UtcNow;
        return DateTimeOffset.UtcNow + Delay <= Deadline;
    }

    public async Task WaitAsync(CancellationToken ct)
    {
        await Task.Delay(Delay, ct).ConfigureAwait(false);
        _delay = TimeSpan.FromTicks(Math.Min(maxDelay.Ticks, Delay.Ticks * 2));
    }

    /// <summary>The work went well for a while: the next failure is a new outage, with a window of its own.</summary>
    public void End()
    {
        _since = null;
        _delay = null;
    }
}
