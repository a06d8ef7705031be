using PgShift.Progress;

namespace PgShift.Throttling;

/// <summary>A task's two throttles: the copy's (bytes read from the source) and the stream's (changes applied).</summary>
public sealed class TaskThrottles : IDisposable
{
    /// <summary>Bytes a second read from the source by every copy worker together.</summary>
    public Throttle Copy { get; } = new();

    /// <summary>Changes a second applied to the target.</summary>
    public Throttle Apply { get; } = new();

    public RateLimits Limits => new((long)Copy.Rate, Apply.Rate);

    public void Set(RateLimits limits)
    {
        Copy.SetRate(limits.CopyBytesPerSecond);
        Apply.SetRate(limits.ApplyChangesPerSecond);
    }

    public void Dispose()
    {
        Copy.Dispose();
        Apply.Dispose();
    }
}
