namespace PgShift.Progress;

/// <summary>A task's throttles: 0 means no limit.</summary>
/// <param name="CopyBytesPerSecond">Bytes a second that the copy reads from the source, over all its workers.</param>
/// <param name="ApplyChangesPerSecond">Changes a second that the stream applies to the target.</param>
public sealed record RateLimits(long CopyBytesPerSecond, double ApplyChangesPerSecond)
{
    public static readonly RateLimits None = new(0, 0);
}
