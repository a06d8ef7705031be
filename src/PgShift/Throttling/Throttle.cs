using System.Threading.RateLimiting;

namespace PgShift.Throttling;

/// <summary>
/// A rate limit that may change while the work it limits runs: a token bucket (<see cref="TokenBucketRateLimiter"/>)
/// shared by every worker, replaced when the rate changes. Without a limit, waiting costs nothing.
/// </summary>
public sealed class Throttle : IDisposable
{
    /// <summary>How often the bucket is refilled: by the time elapsed since the last refill, so a late timer loses nothing.</summary>
    private static readonly TimeSpan RefillPeriod = TimeSpan.FromMilliseconds(50);

    /// <summary>The burst the bucket allows: a fifth of a second at the rate (and the bucket starts full).</summary>
    private const double BurstSeconds = 0.2;

    private readonly Lock _lock = new();
    private Bucket? _bucket;

    /// <summary>A throttle that never limits, for work that has none (never set a rate on it).</summary>
    public static readonly Throttle Unlimited = new();

    /// <summary>Units a second; 0 when unlimited.</summary>
    public double Rate { get; private set; }

    private sealed class Bucket : IDisposable
    {
        public TokenBucketRateLimiter Limiter { get; }
        public int Burst { get; }
        private readonly Timer _refill;

        public Bucket(double rate)
        {
            // TokensPerPeriod / ReplenishmentPeriod is the fill rate: a whole number of tokens over a period that makes it the rate.
            var perPeriod = (int)Math.Clamp(Math.Round(rate), 1, int.MaxValue);
            Burst = (int)Math.Clamp(rate * BurstSeconds, 1, int.MaxValue);
            Limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Burst,
                TokensPerPeriod = perPeriod,
                ReplenishmentPeriod = TimeSpan.FromSeconds(perPeriod / rate),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = false,
            });
            _refill = new Timer(_ => Limiter.TryReplenish(), null, RefillPeriod, RefillPeriod);
        }

        public void Dispose()
        {
            _refill.Dispose();
            // Fails the leases still queued: their waiters go on with the bucket that replaced this one.
            Limiter.Dispose();
        }
    }

    /// <summary>Sets the rate (units a second; 0 or less: no limit). Waiters go on at the new rate.</summary>
    public void SetRate(double perSecond)
    {
        perSecond = double.IsFinite(perSecond) && perSecond > 0 ? perSecond : 0;
        Bucket? old;
        lock (_lock)
        {
            if (perSecond == Rate)
            {
                return;
            }
            old = _bucket;
            _bucket = perSecond > 0 ? new Bucket(perSecond) : null;
            Rate = perSecond;
        }
        old?.Dispose();
    }

    /// <summary>Waits until <paramref name="amount"/> units may go, at the rate in force (returns at once without a limit).</summary>
    public async ValueTask WaitAsync(long amount, CancellationToken ct)
    {
        while (amount > 0)
        {
            var bucket = Volatile.Read(ref _bucket);
            if (bucket is null)
            {
                return;
            }
            var take = (int)Math.Min(amount, bucket.Burst);
            RateLimitLease lease;
            try
            {
                lease = bucket.Limiter.AttemptAcquire(take);
                if (!lease.IsAcquired)
                {
                    lease.Dispose();
                    lease = await bucket.Limiter.AcquireAsync(take, ct);
                }
            }
            catch (ObjectDisposedException)
            {
                // Replaced meanwhile: go on with the new bucket.
                continue;
            }
            using (lease)
            {
                // A lease fails only when its bucket was replaced (disposed): the loop goes on with the new one.
                if (lease.IsAcquired)
                {
                    amount -= take;
                }
            }
        }
    }

    public void Dispose() => SetRate(0);
}
