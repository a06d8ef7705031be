using Xunit.Abstractions;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Monitoring;

public sealed class ThrottleTests(ITestOutputHelper output) : MonitoringRun
{
    /// <summary>The copy's rate between two scrapes, from the task's own count of bytes copied.</summary>
    private static double Rate(MetricsEndpoint.Scrape from, MetricsEndpoint.Scrape to, string task)
        => (to.Value("pgshift_copy_bytes", task) - from.Value("pgshift_copy_bytes", task)) / (to.At - from.At);

    [Fact]
    public async Task Throttled_copy_keeps_within_15_percent_of_its_limit_and_pgshift_throttle_changes_it_while_it_runs()
    {
        var metrics = await PrepareAsync(megabytes: 60);
        await using var migrate = StartMigrate(metrics, "--types", "schema,full", "--max-copy-rate", "1MB");
        const double slow = 1048576, fast = 3 * 1048576;

        await metrics.WaitAsync(s => s.Phase(TaskName) == "copy" && s.Value("pgshift_copy_bytes", TaskName) > 0, TimeSpan.FromMinutes(1), migrate);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var a = await metrics.ScrapeAsync();
        await Task.Delay(TimeSpan.FromSeconds(6));
        var b = await metrics.ScrapeAsync();
        var first = Rate(a, b, TaskName);
        Assert.True(Math.Abs(first - slow) <= 0.15 * slow, $"copied at {MetricsEndpoint.Mb(first)} MB/s under a limit of 1 MB/s");
        Assert.Contains("limits   copy 1 MB/s, apply no limit", (await PgShiftAsync("status")).Stdout, StringComparison.Ordinal);

        output.WriteLine($"limit 1 MB/s: {MetricsEndpoint.Mb(first)} MB/s over {b.At - a.At:0.0} s");

        var changed = await PgShiftAsync("throttle", "--copy-rate", "3MB");
        Assert.Contains($"Task {TaskName}: copy 3 MB/s, apply no limit; the running task takes them within a few seconds.", changed.Stdout, StringComparison.Ordinal);
        var asked = DateTime.UtcNow;
        await metrics.WaitAsync(s => s.Value("pgshift_copy_rate_limit_bytes_per_second", TaskName) == fast, TimeSpan.FromSeconds(10), migrate);
        output.WriteLine($"new limit in force {(DateTime.UtcNow - asked).TotalSeconds:0.0} s after 'pgshift throttle' ended");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var c = await metrics.ScrapeAsync();
        await Task.Delay(TimeSpan.FromSeconds(6));
        var d = await metrics.ScrapeAsync();
        var second = Rate(c, d, TaskName);
        Assert.True(d.Value("pgshift_copy_tables_done", TaskName) < 2, "the copy ended before its second rate was measured: make the table bigger");
        Assert.True(Math.Abs(second - fast) <= 0.15 * fast, $"copied at {MetricsEndpoint.Mb(second)} MB/s under a limit of 3 MB/s (before: {MetricsEndpoint.Mb(first)} MB/s)");

        output.WriteLine($"limit 3 MB/s: {MetricsEndpoint.Mb(second)} MB/s over {d.At - c.At:0.0} s");

        // Without a limit the rest goes at once, and the task finishes with every row.
        await PgShiftAsync("throttle", "--copy-rate", "0");
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Equal(await Source.ScalarAsync<long>(SourceDb, "SELECT count(*) FROM big"), await Target.ScalarAsync<long>(TargetDb, "SELECT count(*) FROM big"));
        Assert.Contains($"Task {TaskName}: copy no limit, apply no limit.", (await PgShiftAsync("throttle")).Stdout, StringComparison.Ordinal);
    }
}
