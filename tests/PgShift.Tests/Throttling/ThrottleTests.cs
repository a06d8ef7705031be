using PgShift.Throttling;

namespace PgShift.Tests.Throttling;

public sealed class ThrottleTests
{
    [Fact]
    public async Task Without_a_limit_waiting_returns_at_once()
    {
        using var throttle = new Throttle();

        var wait = throttle.WaitAsync(long.MaxValue, CancellationToken.None);

        Assert.True(wait.IsCompletedSuccessfully);
        await wait;
        Assert.Equal(0, throttle.Rate);
    }

    [Fact]
    public async Task A_waiter_held_by_a_slow_rate_goes_on_when_the_limit_is_lifted()
    {
        using var throttle = new Throttle();
        throttle.SetRate(10);

        // 10 a second: a million would take a day.
        var wait = throttle.WaitAsync(1_000_000, CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(wait.IsCompleted);
        throttle.SetRate(0);

        await wait.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_waiter_held_by_a_slow_rate_goes_on_at_a_faster_one()
    {
        using var throttle = new Throttle();
        throttle.SetRate(1);

        var wait = throttle.WaitAsync(1_000_000, CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(wait.IsCompleted);
        throttle.SetRate(1e9);

        await wait.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1e9, throttle.Rate);
    }

    [Fact]
    public async Task A_cancelled_waiter_stops_waiting()
    {
        using var throttle = new Throttle();
        throttle.SetRate(1);
        using var cancel = new CancellationTokenSource();

        var wait = throttle.WaitAsync(1_000_000, cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
