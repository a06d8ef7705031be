using System.Text.RegularExpressions;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Monitoring;

public sealed partial class StatusPageTests : MonitoringRun
{
    [GeneratedRegex("""<span id="phase"[^>]*>([^<]*)</span>""")]
    private static partial Regex PhaseElement();

    [GeneratedRegex("""<tr data-table="[^"]*big[^"]*">(.*?)</tr>""")]
    private static partial Regex BigTableRow();

    [GeneratedRegex("""<td class="percent">(\d+)%</td>""")]
    private static partial Regex PercentCell();

    [GeneratedRegex("""<td class="eta">(\d+[hms][0-9ms]*)</td>""")]
    private static partial Regex EtaCell();

    [GeneratedRegex("""<div class="big late" id="delay">delay (\d+\.\d) s, [\d,]+ KB</div>""")]
    private static partial Regex DelayElement();

    [GeneratedRegex("""<polyline id="chart-line"[^>]* points="([^"]+)">""")]
    private static partial Regex ChartLine();

    [Fact]
    public async Task Status_page_in_headless_chromium_shows_the_phase_a_tables_progress_and_the_delay()
    {
        // About 16 s of copy at 500 kB/s: time enough for chromium to start on a busy machine.
        var metrics = await PrepareAsync(megabytes: 8);
        await using var migrate = StartMigrate(metrics, "--max-copy-rate", "500kB");
        var screenshots = HeadlessChromium.ArtifactsDirectory();

        // During the copy: the phase, and the big table's percentage and time left, as a person reads them.
        await metrics.WaitAsync(s => s.Phase(TaskName) == "copy" && s.Value("pgshift_copy_bytes", TaskName) > 512 * 1024, TimeSpan.FromMinutes(1), migrate);
        var copying = await HeadlessChromium.DumpDomAsync(metrics.Url);
        await HeadlessChromium.ScreenshotAsync(metrics.Url, Path.Combine(screenshots, "status-page-copy.png"));
        Assert.Equal("copy", PhaseElement().Match(copying).Groups[1].Value);
        var row = BigTableRow().Match(copying);
        Assert.True(row.Success, $"no row for table big:\n{copying}");
        var percent = int.Parse(PercentCell().Match(row.Value).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(percent, 1, 99);
        Assert.Matches(EtaCell(), row.Value);
        Assert.Contains("copy 500 kB/s, apply no limit", copying, StringComparison.Ordinal);
        Assert.DoesNotContain("password", copying, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Source.Host + ":", copying, StringComparison.Ordinal);

        // During the stream, held back to 100 changes a second: the delay, and its chart.
        await PgShiftAsync("throttle", "--copy-rate", "0", "--apply-rate", "100");
        await metrics.WaitAsync(s => s.Phase(TaskName) == "stream" && s.Value("pgshift_stream_connected", TaskName) == 1
            && s.Value("pgshift_apply_rate_limit_changes_per_second", TaskName) == 100, TimeSpan.FromMinutes(1), migrate);
        await Source.ExecuteAsync(SourceDb, "INSERT INTO events SELECT g, 'second' FROM generate_series(1001, 2500) g");
        await metrics.WaitAsync(s => s.Value("pgshift_stream_delay_seconds", TaskName) >= 3, TimeSpan.FromSeconds(30), migrate);
        var streaming = await HeadlessChromium.DumpDomAsync(metrics.Url);
        await HeadlessChromium.ScreenshotAsync(metrics.Url, Path.Combine(screenshots, "status-page-stream.png"));
        Assert.Equal("stream", PhaseElement().Match(streaming).Groups[1].Value);
        var delay = DelayElement().Match(streaming);
        Assert.True(delay.Success, $"no delay shown:\n{streaming}");
        Assert.True(double.Parse(delay.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 1, delay.Value);
        Assert.True(ChartLine().Match(streaming).Groups[1].Value.Split(' ').Length >= 2, $"the delay chart has no line:\n{streaming}");
        Assert.Matches("""<tr data-table="[^"]*big[^"]*">.*?<td class="percent">100%</td>""", streaming);

        await StopAsync(migrate);
    }
}
