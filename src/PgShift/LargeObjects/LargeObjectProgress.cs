using PgShift.Progress;

namespace PgShift.LargeObjects;

/// <summary>Live counters of a pass over the large objects, updated by its workers; what is published is their <see cref="Snapshot"/>.</summary>
public sealed class LargeObjectProgress
{
    private long _objects;
    private long _objectsDone;
    private long _bytes;
    private long _bytesDone;
    private DateTime _startedAt = DateTime.UtcNow;
    private DateTime? _finishedAt;
    private volatile bool _begun;

    /// <summary>Starts a pass over this many objects and bytes.</summary>
    public void Begin(long objects, long bytes)
    {
        Interlocked.Exchange(ref _objects, objects);
        Interlocked.Exchange(ref _bytes, bytes);
        Interlocked.Exchange(ref _objectsDone, 0);
        Interlocked.Exchange(ref _bytesDone, 0);
        _startedAt = DateTime.UtcNow;
        _finishedAt = null;
        _begun = true;
    }

    public void AddBytes(long bytes) => Interlocked.Add(ref _bytesDone, bytes);

    public void AddObjects(long objects) => Interlocked.Add(ref _objectsDone, objects);

    public void Finish() => _finishedAt = DateTime.UtcNow;

    public double Seconds => ((_finishedAt ?? DateTime.UtcNow) - _startedAt).TotalSeconds;

    /// <summary>The pass as it stands; null before it begins.</summary>
    public LargeObjectsSnapshot? Snapshot() => _begun
        ? new LargeObjectsSnapshot(Interlocked.Read(ref _objects), Interlocked.Read(ref _objectsDone), Interlocked.Read(ref _bytes),
            Interlocked.Read(ref _bytesDone), Seconds, _finishedAt is not null)
        : null;
}
