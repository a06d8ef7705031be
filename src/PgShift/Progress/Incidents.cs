namespace PgShift.Progress;

/// <summary>A failure the task met: retried (waited out) or not.</summary>
/// <param name="What">What failed, e.g. "The change stream" or "Copying public.orders".</param>
/// <param name="Message">Redacted: never a password.</param>
public sealed record Incident(DateTime At, string What, string Message, bool Retried);

/// <summary>The task's failures at one moment: how many, and the last few.</summary>
public sealed record IncidentsSnapshot(long Retries, long Errors, IReadOnlyList<Incident> Recent)
{
    public static readonly IncidentsSnapshot None = new(0, 0, []);
}

/// <summary>
/// Counts the task's retries and errors and keeps the last few, for whoever renders the task's progress; written by every
/// retry loop of the task (through <c>RetryLoop.Incidents</c>) and by the task when a run fails.
/// </summary>
public sealed class IncidentLog
{
    /// <summary>How many incidents are kept: the status page shows these.</summary>
    public const int Kept = 10;

    private readonly Lock _lock = new();
    private readonly Queue<Incident> _recent = new();
    private long _retries;
    private long _errors;

    /// <summary>A failure that is being waited out; <paramref name="message"/> must be redacted already.</summary>
    public void Retried(string what, string message) => Add(new Incident(DateTime.UtcNow, what, message, Retried: true));

    /// <summary>A failure that ended the task's run; <paramref name="message"/> must be redacted already.</summary>
    public void Failed(string what, string message) => Add(new Incident(DateTime.UtcNow, what, message, Retried: false));

    private void Add(Incident incident)
    {
        lock (_lock)
        {
            if (incident.Retried)
            {
                _retries++;
            }
            else
            {
                _errors++;
            }
            _recent.Enqueue(incident);
            while (_recent.Count > Kept)
            {
                _recent.Dequeue();
            }
        }
    }

    public IncidentsSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new IncidentsSnapshot(_retries, _errors, [.. _recent]);
        }
    }
}
