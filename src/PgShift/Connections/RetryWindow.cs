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
        DateTimeOffset? firstFailure = null;
        var delay = initialDelay ?? TimeSpan.FromMilliseconds(500);
        var max = maxDelay ?? TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await work(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var failure = ConnectionFailure.From(ex, spec);
                var now = DateTimeOffset.UtcNow;
                firstFailure ??= now;
                var deadline = firstFailure.Value + Window;
                if (!failure.IsTransient || now + delay > deadline)
                {
                    throw new PgShiftException($"{what} failed: {failure.Problem}", failure.Fix, ex);
                }
                logger.LogWarning("{What} failed: {Problem} Retrying in {Delay:0.0}s (until {Deadline:u}).", what, failure.Problem, delay.TotalSeconds, deadline);
                Retrying?.Invoke(failure, deadline);
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(max.Ticks, delay.Ticks * 2));
            }
        }
    }

    public Task RunAsync(string what, ConnectionSpec spec, Func<CancellationToken, Task> work, CancellationToken ct)
        => RunAsync<bool>(what, spec, async c => { await work(c).ConfigureAwait(false); return true; }, ct);
}
