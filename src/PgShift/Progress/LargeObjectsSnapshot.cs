namespace PgShift.Progress;

/// <summary>
/// The large objects' copy (or, at cutover, their synchronisation) at one moment: objects and bytes to go through, and
/// done so far. At cutover, the bytes are those read to compare contents as well as those copied.
/// </summary>
/// <param name="Seconds">Time since this pass started (to its end, once finished).</param>
public sealed record LargeObjectsSnapshot(long Objects, long ObjectsDone, long Bytes, long BytesDone, double Seconds, bool Finished)
{
    public double BytesPerSecond => Seconds > 0 ? BytesDone / Seconds : 0;
    public TimeSpan? Eta => Finished ? null : Estimate.TimeLeft(Bytes, BytesDone, BytesPerSecond);
}
