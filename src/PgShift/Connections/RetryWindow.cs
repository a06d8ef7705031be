using Microsoft.Extensions.Logging;

namespace PgShift.Connections;

/// <summary>
/// Retries work that failed for a reason waiting can fix (a refused, reset or timed-out connection,
/// a server restarting) with exponential backoff, until the window since the first failure closes.
/// </summary>
public sealed class RetryWindow(TimeSpan window, ILogger logger, TimeSpan? initialDelay = null, TimeSpan? maxDelay = null)
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(12);

    public TimeSpan Window { get; } = window;

    /// <summary>Raised before each wait: the failure and when the window closes.</summary>
    public event Action<ConnectionFailure, DateTimeOffset>? Retrying;

    public async Task<T> RunAsync<T>(string what, ConnectionSpec spec, Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        var outage = new Outage(Window, initialDelay ?? TimeSpan.FromMilliseconds(500), maxDelay ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                return await work(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var failure = ConnectionFailure.From(ex, spec);
                if (!failure.IsTransient || !outage.Failed())
                {
                    throw new PgShiftException($"{what} failed: {failure.Problem}", failure.Fix, ex);
                }
                logger.LogWarning("{What} failed: {Problem} Retrying in {Delay:0.0}s (until {Deadline:u}).", what, failure.Problem, outage.Delay.TotalSeconds, outage.Deadline);
                Retrying?.Invoke(failure, outage.Deadline);
                await outage.WaitAsync(ct).ConfigureAwait(false);
            }
        }
    }

    public Task RunAsync(string what, ConnectionSpec spec, Func<CancellationToken, Task> work, CancellationToken ct)
        => RunAsync<bool>(what, spec, async c => { await work(c).ConfigureAwait(false); return true; }, ct);
}
