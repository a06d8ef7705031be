using PgShift.Progress;

namespace PgShift.Connections;

/// <summary>
/// The one retry loop: runs work again after a failure that waiting can fix (<see cref="Transience"/>), with exponential
/// backoff, until the retry window that opened at the outage's first failure closes; then fails with
/// <see cref="RetryWindowClosedException"/>, which no outer loop retries. Work that has gone well for a while calls
/// <see cref="Recovered"/>, so that its next failure is a new outage with a window of its own.
/// </summary>
public sealed class RetryLoop(string what, TimeSpan window, TimeSpan firstDelay, TimeSpan maxDelay)
{
    private readonly Outage _outage = new(window, firstDelay, maxDelay);

    /// <summary>Raised before each wait: the failure, the wait, and when the window closes.</summary>
    public event Action<Exception, TimeSpan, DateTimeOffset>? Retrying;

    /// <summary>Raised before each wait, awaited (e.g. to record the outage in the task's state).</summary>
    public Func<Exception, DateTimeOffset, CancellationToken, Task>? BeforeWait { get; init; }

    /// <summary>Whether a failure is retried (default: <see cref="Transience.IsTransient"/>).</summary>
    public Func<Exception, bool> CanRetry { get; init; } = Transience.IsTransient;

    /// <summary>Describes a failure for the message when the window closes (default: its message).</summary>
    public Func<Exception, (string Problem, string? Fix)> Describe { get; init; } = ex => (Redactor.Redact(ex.Message), (ex as PgShiftException)?.Fix);

    /// <summary>Where each retried failure is counted and kept, for the task's progress (none: only the events say).</summary>
    public IncidentLog? Incidents { get; init; }

    /// <summary>When the window closes, fail with the last failure itself (it says already what failed and what to do).</summary>
    public bool KeepFailureWhenClosed { get; init; }

    /// <summary>A failure is being waited out.</summary>
    public bool Ongoing => _outage.Ongoing;

    /// <summary>The work went well for a while: the next failure is a new outage.</summary>
    public void Recovered() => _outage.End();

    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await work(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && CanRetry(ex))
            {
                if (!_outage.Failed())
                {
                    if (KeepFailureWhenClosed)
                    {
                        throw;
                    }
                    var (problem, fix) = Describe(ex);
                    throw new RetryWindowClosedException($"{what} failed, and went on failing for the whole retry window of {window}: {problem}", fix, ex);
                }
                Retrying?.Invoke(ex, _outage.Delay, _outage.Deadline);
                Incidents?.Retried(what, Describe(ex).Problem);
                if (BeforeWait is { } before)
                {
                    await before(ex, _outage.Deadline, ct).ConfigureAwait(false);
                }
                await _outage.WaitAsync(ct).ConfigureAwait(false);
            }
        }
    }

    public Task RunAsync(Func<CancellationToken, Task> work, CancellationToken ct)
        => RunAsync<bool>(async c => { await work(c).ConfigureAwait(false); return true; }, ct);
}
