using PgShift.Progress;
using PgShift.State;

namespace PgShift.Tests.Progress;

public sealed class ProgressRulesTests
{
    private static StreamSnapshot Connected(long delayBytes = 0, double delaySeconds = 0, bool caughtUp = false) =>
        new(StreamLink.Connected, delayBytes, delaySeconds, ChangesApplied: 10, AppliedLsn: "0/10", SlotRetainedBytes: 0, CaughtUp: caughtUp);

    [Fact]
    public void Time_left_is_what_remains_at_the_rate()
    {
        Assert.Equal(TimeSpan.FromSeconds(9), Estimate.TimeLeft(total: 1000, done: 100, perSecond: 100));
    }

    [Theory]
    [InlineData(1000, 1000, 100)]
    [InlineData(1000, 1200, 100)]
    [InlineData(1000, 100, 0)]
    public void No_time_left_when_done_or_without_a_rate(long total, long done, double perSecond)
    {
        Assert.Null(Estimate.TimeLeft(total, done, perSecond));
    }

    [Fact]
    public void A_table_has_an_eta_only_while_it_copies()
    {
        var copying = new TableCopySnapshot("public.t", 10, 500, 1000, TableCopyState.Copying, 100);
        Assert.Equal(TimeSpan.FromSeconds(5), copying.Eta);
        Assert.Null((copying with { State = TableCopyState.Done }).Eta);
        Assert.Null((copying with { State = TableCopyState.Waiting }).Eta);
    }

    [Fact]
    public void The_copy_counts_a_table_past_its_estimate_at_its_size_so_far()
    {
        var copy = new CopySnapshot(
        [
            new TableCopySnapshot("public.big", 10, 3000, 2000, TableCopyState.Copying, 100),
            new TableCopySnapshot("public.small", 5, 0, 1000, TableCopyState.Waiting, 0),
            new TableCopySnapshot("public.old", 5, 0, 500, TableCopyState.Skipped, 0),
        ], Seconds: 10);

        Assert.Equal(4500, copy.EstimatedBytes);
        Assert.Equal(3000, copy.Bytes);
        Assert.Equal(1, copy.TablesDone);
        // Left: the small table's 1000 bytes (the one copied by an earlier run is not left), at 300 bytes/s.
        Assert.Equal(TimeSpan.FromSeconds(1000 / 300.0), copy.Eta);
    }

    [Fact]
    public void A_finished_copy_has_no_time_left_even_when_the_tables_came_out_smaller_than_their_estimates()
    {
        var copy = new CopySnapshot(
        [
            new TableCopySnapshot("public.big", 10, 1500, 2000, TableCopyState.Done, 100),
            new TableCopySnapshot("public.copying", 5, 100, 1000, TableCopyState.Copying, 50),
        ], Seconds: 10);

        Assert.Equal(TimeSpan.FromSeconds(900 / 160.0), copy.Eta);
        var finished = copy with { Tables = [copy.Tables[0], copy.Tables[1] with { Bytes = 800, State = TableCopyState.Done }] };
        Assert.Null(finished.Eta);
        Assert.DoesNotContain("ETA", PgShift.Cli.ProgressText.CopyLines(finished, terminal: true)[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0.0, true, true)]
    [InlineData(5_000_000, 0.5, false, true)]
    [InlineData(5_000_000, 1.0, false, false)]
    [InlineData(16 * 1024 * 1024, 0.2, false, false)]
    [InlineData(16 * 1024 * 1024, 3.0, true, true)]
    public void Not_delayed_is_caught_up_or_under_a_second_and_16_MB_behind(long bytes, double seconds, bool caughtUp, bool notDelayed)
    {
        var s = Connected(bytes, seconds, caughtUp);
        Assert.Equal(notDelayed, s.NotDelayed);
        Assert.Equal(notDelayed ? StreamState.NotDelayed : StreamState.Delayed, s.State);
    }

    [Fact]
    public void Never_not_delayed_while_held_by_a_verify_retrying_or_not_connected()
    {
        var caughtUp = Connected(caughtUp: true);
        Assert.Equal(StreamState.Paused, (caughtUp with { PausedAt = "0/20" }).State);
        Assert.False((caughtUp with { PausedAt = "0/20" }).NotDelayed);
        Assert.Equal(StreamState.Retrying, (caughtUp with { RetryingUntil = DateTime.UtcNow }).State);
        Assert.False((caughtUp with { RetryingUntil = DateTime.UtcNow }).NotDelayed);
        Assert.Equal(StreamState.Connecting, (caughtUp with { Link = StreamLink.Connecting }).State);
        Assert.Equal(StreamState.NotRunning, (caughtUp with { Link = StreamLink.NotRunning }).State);
        Assert.False((caughtUp with { Link = StreamLink.NotRunning }).NotDelayed);
    }

    [Fact]
    public void Status_from_the_task_state_follows_the_same_rule()
    {
        var running = new StreamStatus("0/10", DelayBytes: 100, DelaySeconds: 0.3, ChangesApplied: 5, SlotRetainedBytes: 0, Heartbeat: DateTime.UtcNow,
            RetryingUntil: null, Running: true);
        Assert.True(running.NotDelayed);
        Assert.False((running with { PausedAt = "0/20" }).NotDelayed);
        Assert.False((running with { Running = false }).NotDelayed);
        Assert.Equal(StreamState.NotRunning, (running with { Running = false }).ToSnapshot().State);
    }

    [Fact]
    public void Status_tables_become_a_copy_snapshot_with_their_rate_since_start()
    {
        var now = new DateTime(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);
        var report = new TaskStatusReport("app", TaskPhase.Copy, "src", now, null, null, null, null, [],
        [
            new TableStatus("public.a", "public.a", "copying", 4000, 20, 1000, now.AddSeconds(-10), null, null),
            new TableStatus("public.b", "public.b", "done", 10, 1, 10, now.AddSeconds(-20), now.AddSeconds(-15), "0/1"),
            new TableStatus("public.c", "public.c", "pending", 10, 0, 0, null, null, null),
        ]);

        var copy = report.ToProgress(now).Copy!;

        Assert.Equal([TableCopyState.Copying, TableCopyState.Done, TableCopyState.Waiting], copy.Tables.Select(t => t.State));
        Assert.Equal(100, copy.Tables[0].BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(30), copy.Tables[0].Eta);
        Assert.Equal(2, copy.Tables[1].BytesPerSecond);
        Assert.Equal(20, copy.Seconds);
        Assert.Null(report.ToProgress(now).Stream);
    }
}
