using System.Diagnostics;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>Debian's chromium, headless, loading a page as a person's browser would: its DOM once the page's scripts ran, and a screenshot.</summary>
public static class HeadlessChromium
{
    private const string Binary = "/usr/bin/chromium";

    /// <summary>Where screenshots go: beside the test results (PGSHIFT_TEST_RESULTS, or the repository's TestResults, as scripts/test.sh sets).</summary>
    public static string ArtifactsDirectory()
    {
        var results = Environment.GetEnvironmentVariable("PGSHIFT_TEST_RESULTS");
        if (results is null)
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "PgShift.slnx")))
            {
                dir = dir.Parent;
            }
            results = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "TestResults");
        }
        var screenshots = Path.Combine(results, "screenshots");
        Directory.CreateDirectory(screenshots);
        return screenshots;
    }

    /// <summary>The page's DOM after its scripts ran (and its first refreshes were answered).</summary>
    public static async Task<string> DumpDomAsync(string url) => (await RunAsync(url, "--dump-dom")).Stdout;

    /// <summary>A screenshot of the page, 1100x900, to <paramref name="path"/>.</summary>
    public static async Task ScreenshotAsync(string url, string path)
    {
        await RunAsync(url, "--window-size=1100,900", $"--screenshot={path}");
        Assert.True(File.Exists(path), $"chromium wrote no screenshot to {path}");
    }

    private static async Task<(string Stdout, string Stderr)> RunAsync(string url, params string[] what)
    {
        Assert.True(File.Exists(Binary), "Debian's chromium is missing: 'bash tests/servers/pg-servers.sh start' installs it (apt-get install chromium).");
        var profile = Directory.CreateTempSubdirectory("pgshift-chromium-");
        try
        {
            var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            // --no-sandbox: tests run as root. The virtual time budget lets the page's script fetch and render before the dump.
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                $"--user-data-dir={profile.FullName}", "--virtual-time-budget=3000" }.Concat(what).Append(url))
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, $"chromium failed ({p.ExitCode}): {await stderr}");
            return (await stdout, await stderr);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
