using Xunit.Abstractions;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Monitoring;

public sealed class MetricsTests(ITestOutputHelper output) : MonitoringRun
{
    [Fact]
    public async Task Metrics_during_a_migration_parse_as_prometheus_text_and_copied_bytes_and_delay_move()
    {
        var metrics = await PrepareAsync(megabytes: 12);
        await using var migrate = StartMigrate(metrics, "--max-copy-rate", "2MB");

        // The copy: every metric is there, labelled with the task, and the bytes copied grow from one scrape to the next.
        // (About 6 s of copy: the first scrape is taken in its first half, the second a second later.)
        var first = await metrics.WaitAsync(s => s.Phase(TaskName) == "copy" && s.Value("pgshift_copy_bytes", TaskName) > 0, TimeSpan.FromMinutes(1), migrate);
        Assert.True(first.Value("pgshift_copy_bytes", TaskName) < 0.5 * first.Value("pgshift_copy_bytes_estimated", TaskName), first.Text);
        await Task.Delay(1000);
        var second = await metrics.ScrapeAsync();
        Assert.True(second.Value("pgshift_copy_bytes", TaskName) > first.Value("pgshift_copy_bytes", TaskName), $"the copied bytes did not move:\n{second.Text}");
        Assert.Equal(2, second.Value("pgshift_copy_tables", TaskName));
        Assert.True(second.Value("pgshift_copy_bytes_estimated", TaskName) >= 10 * 1048576, second.Text);
        Assert.True(second.Value("pgshift_copy_rate_bytes_per_second", TaskName) > 0, second.Text);
        Assert.Equal(2 * 1048576, second.Value("pgshift_copy_rate_limit_bytes_per_second", TaskName));
        foreach (var name in new[] { "pgshift_stream_delay_seconds", "pgshift_stream_delay_bytes", "pgshift_stream_changes_applied_total",
            "pgshift_stream_apply_rate_changes_per_second", "pgshift_source_wal_retained_bytes", "pgshift_retries_total", "pgshift_errors_total",
            "pgshift_apply_rate_limit_changes_per_second", "pgshift_copy_tables_done", "pgshift_copy_rows" })
        {
            _ = second.Value(name, TaskName);
        }
        Assert.Contains("# TYPE pgshift_stream_changes_applied_total counter", second.Text, StringComparison.Ordinal);
        Assert.Contains("# HELP pgshift_stream_delay_seconds ", second.Text, StringComparison.Ordinal);

        // The stream: held to 300 changes a second, 1,500 changes make a delay that rises, then falls back to nothing.
        await metrics.WaitAsync(s => s.Phase(TaskName) == "stream" && s.Value("pgshift_stream_connected", TaskName) == 1, TimeSpan.FromMinutes(1), migrate);
        await PgShiftAsync("throttle", "--apply-rate", "300");
        await metrics.WaitAsync(s => s.Value("pgshift_apply_rate_limit_changes_per_second", TaskName) == 300, TimeSpan.FromSeconds(15), migrate);
        var before = (await metrics.ScrapeAsync()).Value("pgshift_stream_changes_applied_total", TaskName);
        var applying = System.Diagnostics.Stopwatch.StartNew();
        await Source.ExecuteAsync(SourceDb, "INSERT INTO events SELECT g, 'second' FROM generate_series(1001, 2500) g");
        // Three seconds in, the last second measured was throttled all through (the first one had the bucket's burst):
        // the rate shown stays within the limit. (How far below it depends on the machine's load: not asserted.)
        var delayed = await metrics.WaitAsync(s => s.Value("pgshift_stream_delay_seconds", TaskName) >= 3, TimeSpan.FromSeconds(30), migrate);
        Assert.True(delayed.Value("pgshift_stream_delay_bytes", TaskName) > 0, delayed.Text);
        var applyRate = delayed.Value("pgshift_stream_apply_rate_changes_per_second", TaskName);
        output.WriteLine($"limit 300 changes/s: {applyRate:0.0} changes/s");
        Assert.True(applyRate <= 1.15 * 300, $"applied {applyRate:0.0} changes/s under a limit of 300");
        Assert.Equal(0, delayed.Value("pgshift_stream_caught_up", TaskName));
        var caughtUp = await metrics.WaitAsync(s => s.Value("pgshift_stream_changes_applied_total", TaskName) >= before + 1500
            && s.Value("pgshift_stream_caught_up", TaskName) == 1, TimeSpan.FromSeconds(60), migrate);
        // The limit held over the whole transaction: 1,500 changes, less the bucket's burst of a fifth of a second, at 300 a second.
        output.WriteLine($"1,500 changes applied in {applying.Elapsed.TotalSeconds:0.0} s");
        Assert.True(applying.Elapsed.TotalSeconds >= (1500 - 60) / 300.0 * 0.95, $"1,500 changes were applied in {applying.Elapsed.TotalSeconds:0.0} s under a limit of 300 a second");
        Assert.Equal(0, caughtUp.Value("pgshift_stream_delay_seconds", TaskName));
        Assert.Equal(0, caughtUp.Value("pgshift_stream_delay_bytes", TaskName));
        Assert.Equal(1600L, await Target.ScalarAsync<long>(TargetDb, "SELECT count(*) FROM events"));
        Assert.Equal(0, caughtUp.Value("pgshift_errors_total", TaskName));

        // status shows the limits too.
        var status = await PgShiftAsync("status");
        Assert.Contains("limits   copy 2 MB/s, apply 300 changes/s", status.Stdout, StringComparison.Ordinal);
        await StopAsync(migrate);
    }
}
