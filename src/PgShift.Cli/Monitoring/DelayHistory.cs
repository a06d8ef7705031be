using PgShift.Progress;

namespace PgShift.Cli.Monitoring;

/// <summary>The stream's delay over the last minutes, one sample a second at most, for the status page's chart.</summary>
internal sealed class DelayHistory
{
    public static readonly TimeSpan Span = TimeSpan.FromMinutes(10);

    public sealed record Sample(DateTime At, double Seconds, long Bytes);

    private readonly Lock _lock = new();
    private readonly Queue<Sample> _samples = new();

    public void Add(DateTime at, StreamSnapshot? stream)
    {
        if (stream is null)
        {
            return;
        }
        lock (_lock)
        {
            if (_samples.Count > 0 && at - _samples.Last().At < TimeSpan.FromSeconds(1))
            {
                return;
            }
            _samples.Enqueue(new Sample(at, stream.DelaySeconds, stream.DelayBytes));
            while (_samples.Count > 0 && at - _samples.Peek().At > Span)
            {
                _samples.Dequeue();
            }
        }
    }

    public List<Sample> Samples()
    {
        lock (_lock)
        {
            return [.. _samples];
        }
    }
}
