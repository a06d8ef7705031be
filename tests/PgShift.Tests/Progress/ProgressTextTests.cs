using PgShift.Cli;
using PgShift.Progress;

namespace PgShift.Tests.Progress;

public sealed class ProgressTextTests
{
    private static readonly StreamSnapshot Delayed = new(StreamLink.Connected, DelayBytes: 2_048_000, DelaySeconds: 2.25, ChangesApplied: 12_345,
        AppliedLsn: "0/3000", SlotRetainedBytes: 3 * 1048576, ChangesPerSecond: 1500.4);

    [Theory]
    [InlineData(7, "7s")]
    [InlineData(185, "3m05s")]
    [InlineData(3720, "1h02m")]
    [InlineData(90000, "25h00m")]
    public void Durations_read_as_hours_minutes_seconds(int seconds, string text)
    {
        Assert.Equal(text, ProgressText.Duration(TimeSpan.FromSeconds(seconds)));
    }

    [Fact]
    public void The_live_stream_line_says_the_delay_and_the_rate()
    {
        Assert.Equal("stream  delay 2.3 s, 2,000 KB (12,345 changes applied, 1,500/s)", ProgressText.StreamLine(Delayed));
        Assert.Equal("stream  not delayed (12,345 changes applied, 1,500/s)", ProgressText.StreamLine(Delayed with { CaughtUp = true, DelayBytes = 0, DelaySeconds = 0 }));
    }

    [Fact]
    public void A_held_stream_says_paused_by_a_verify_live_in_status_and_at_cutover_alike()
    {
        var held = Delayed with { PausedAt = "0/2F00" };
        Assert.Equal("stream  paused by a verify at 0/2F00, delay 2.3 s, 2,000 KB (12,345 changes applied)", ProgressText.StreamLine(held));
        Assert.Equal("stream   paused by a verify at 0/2F00, delay 2.3 s, 2,000 KB; 12,345 changes applied up to 0/3000; slot keeps 3.0 MB of WAL",
            ProgressText.StreamStatus(held));
        Assert.Equal("paused by a verify at 0/2F00, delay 2.3 s, 2,000 KB", ProgressText.StreamState(held));
    }

    [Fact]
    public void A_retrying_stream_says_until_when_and_why_when_known()
    {
        var until = new DateTime(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);
        Assert.Equal("stream  retrying (until 2026-12-01 12:00:00Z): connection refused",
            ProgressText.StreamLine(Delayed with { Link = StreamLink.Connecting, RetryingUntil = until, LastError = "connection refused" }));
        Assert.Equal("retrying (until 2026-12-01 12:00:00Z)", ProgressText.StreamState(Delayed with { RetryingUntil = until }));
        Assert.Equal("stream  connecting", ProgressText.StreamLine(Delayed with { Link = StreamLink.Connecting }));
        Assert.Equal("stream   not running; 12,345 changes applied up to 0/3000; slot keeps 3.0 MB of WAL",
            ProgressText.StreamStatus(Delayed with { Link = StreamLink.NotRunning }));
    }

    private static CopySnapshot Copy(int tables) => new(
        [.. Enumerable.Range(1, tables).Select(i => new TableCopySnapshot($"public.t{i}", i * 10, i * 1048576L, i * 2 * 1048576L,
            i % 3 == 0 ? TableCopyState.Done : i % 3 == 1 ? TableCopyState.Copying : TableCopyState.Waiting, 1048576))],
        Seconds: 10);

    [Fact]
    public void The_copy_block_lists_tables_largest_first_then_the_total()
    {
        var lines = ProgressText.CopyLines(Copy(3), terminal: true);

        Assert.Equal(4, lines.Count);
        Assert.Equal("copy  public.t3                                          30 rows       3.0 MB     1.0 MB/s  done", lines[0]);
        Assert.EndsWith("waiting", lines[1], StringComparison.Ordinal);
        Assert.Equal("copy  public.t1                                          10 rows       1.0 MB     1.0 MB/s  ETA 1s", lines[2]);
        Assert.Equal("copy  total: 1/3 tables, 60 rows, 6.0 MB, 0.6 MB/s, 10s elapsed, ETA 5s", lines[3]); // t3 is done: its estimate is no longer left
    }

    [Fact]
    public void Without_a_terminal_only_tables_copying_are_listed()
    {
        var lines = ProgressText.CopyLines(Copy(3), terminal: false);

        Assert.Equal(2, lines.Count);
        Assert.StartsWith("copy  public.t1 ", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_list_and_a_long_name_are_cut_short()
    {
        var lines = ProgressText.CopyLines(Copy(14) with
        {
            Tables = [.. Copy(14).Tables, new TableCopySnapshot("public." + new string('x', 60), 0, 0, 0, TableCopyState.Waiting, 0)],
        }, terminal: true);

        Assert.Equal(14, lines.Count);
        Assert.Equal("      ... and 3 more tables", lines[12]);
        Assert.DoesNotContain(lines, l => l.Contains("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", StringComparison.Ordinal));
    }

    [Fact]
    public void Status_lists_the_total_then_each_table_copying()
    {
        var lines = ProgressText.CopyStatus(Copy(3));

        Assert.Equal(["copy     1/3 tables, 60 rows, 6.0 MB", "  copying public.t1: 10 rows, 1.0 MB, 1.0 MB/s, ETA 1s"], lines);
    }

    [Fact]
    public void The_large_objects_line_says_objects_and_bytes_of_all_then_done()
    {
        var copying = new LargeObjectsSnapshot(Objects: 1204, ObjectsDone: 602, Bytes: 200 * 1048576L, BytesDone: 100 * 1048576L, Seconds: 10, Finished: false);
        Assert.Equal("large objects: 602/1,204 objects, 100.0 MB of 200.0 MB, 10.0 MB/s, ETA 10s", ProgressText.LargeObjects(copying));
        Assert.EndsWith("10.0 MB/s, done", ProgressText.LargeObjects(copying with { Finished = true }), StringComparison.Ordinal);
        var lines = ProgressText.CopyLines(new CopySnapshot([], 10, copying), terminal: false);
        Assert.Contains("copy  large objects: 602/1,204 objects, 100.0 MB of 200.0 MB, 10.0 MB/s, ETA 10s", lines);
    }

    [Fact]
    public void Limits_read_in_the_unit_they_were_likely_given_in()
    {
        Assert.Equal("copy no limit, apply no limit", ProgressText.Limits(RateLimits.None));
        Assert.Equal("copy 500 kB/s, apply 1,000 changes/s", ProgressText.Limits(new RateLimits(500 * 1024, 1000)));
        Assert.Equal("copy 50 MB/s, apply 2.5 changes/s", ProgressText.Limits(new RateLimits(50 * 1048576, 2.5)));
        Assert.Equal("copy 1.5 GB/s, apply no limit", ProgressText.Limits(new RateLimits(1610612736, 0)));
    }
}
