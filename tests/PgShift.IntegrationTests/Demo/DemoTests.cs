using System.Diagnostics;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Demo;

public sealed class DemoTests
{
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "demo.sh")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("scripts/demo.sh not found above the test binaries");
    }

    [Fact]
    public async Task The_demo_migrates_with_live_writes_cuts_over_verifies_equal_and_falls_back()
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot() };
        psi.ArgumentList.Add("scripts/demo.sh");
        psi.Environment["DEMO_ROWS"] = "50000";
        psi.Environment["DEMO_DOCS"] = "500";
        psi.Environment["DEMO_FALLBACK"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await p.WaitForExitAsync(timeout.Token);
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("Precheck passed", output, StringComparison.Ordinal);
        Assert.Contains("stream: applying changes", output, StringComparison.Ordinal);
        Assert.Contains("the target is not delayed", output, StringComparison.Ordinal);
        Assert.Matches(@"Verify: equal \(\d+ tables, [\d,]+ rows", output);
        Assert.Matches(@"copied:\s+\d+ rows", output);
        Assert.Contains("demo finished: migrated with live writes, cut over, verified equal", output, StringComparison.Ordinal);
        // The fallback leg: the target's writes went back to the source, and the source equals the target again.
        Assert.Contains("stream: applying the target's changes to the source", output, StringComparison.Ordinal);
        Assert.Matches(@"fallback:\s+Verify: equal \(\d+ tables", output);
        Assert.Contains("and back: the target's writes streamed to the source, fallen back, verified equal", output, StringComparison.Ordinal);
    }
}

/// <summary>The live display on a terminal (a pseudo-terminal from util-linux's script) and in plain mode.</summary>
public sealed class DisplayTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    [Fact]
    public async Task Terminal_shows_copy_progress_and_the_delay_redrawn_in_place()
    {
        Assert.True(File.Exists("/usr/bin/script"), "util-linux's script is needed to give pgshift a pseudo-terminal");
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g;");
        var args = $"--source \"{pair.Source.KeywordValue(pair.SourceDb)}\" --target \"{pair.Target.KeywordValue(pair.TargetDb)}\" --task display";
        var command = $"dotnet {Path.Combine(AppContext.BaseDirectory, "pgshift.dll")} migrate {args}";
        var psi = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-qfec", command, "/dev/null" })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await p.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, n);
                    if (output.ToString().Contains("stream  not delayed", StringComparison.Ordinal))
                    {
                        seen.TrySetResult();
                    }
                }
            }
        });
        await Task.WhenAny(seen.Task, Task.Delay(TimeSpan.FromMinutes(2)));
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--no-verify", "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "display"]);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        await reader;
        var text = output.ToString();
        Assert.True(seen.Task.IsCompleted, "no 'stream  not delayed' line on the terminal:\n" + text);
        Assert.True(cutover.ExitCode == 0, cutover.All);
        Assert.Contains("\u001b[2K", text, StringComparison.Ordinal);
        Assert.Matches(@"copy  ""public"".""t"" +[\d,]+ rows", text);
        Assert.Contains("copy  total: 1/1 table, 200,000 rows", text, StringComparison.Ordinal);
        Assert.Contains("finished", text, StringComparison.Ordinal);
    }
}
