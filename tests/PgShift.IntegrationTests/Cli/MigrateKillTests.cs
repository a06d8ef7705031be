using System.Diagnostics;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

public sealed class MigrateKillTests(Pg12To17 pair) : IClassFixture<Pg12To17>
{
    [Fact]
    public async Task Killed_migrate_process_resumes_where_it_stopped_with_every_row_once_and_status_shows_progress()
    {
        var tables = Enumerable.Range(1, 6).Select(i => $"public.t{i}").ToArray();
        await pair.Source.ExecuteAsync(pair.SourceDb, string.Join("\n", tables.Select((t, i) =>
            $"CREATE TABLE {t} (id int PRIMARY KEY, body text); INSERT INTO {t} SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, {100000 + i * 1000}) g;")));
        var args = new[] { "migrate", "--types", "schema,full", "--jobs", "1", "--task", "killme",
            "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb) };

        // The process logs each table as its copy commits: kill it at the first such line, mid-copy.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pgshift.dll"));
        foreach (var a in args.Append("--verbose"))
        {
            psi.ArgumentList.Add(a);
        }
        var output = new System.Text.StringBuilder();
        using (var p = new Process { StartInfo = psi })
        {
            var firstTable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnLine(object? _, DataReceivedEventArgs e)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
                if (e.Data?.Contains("Copied ", StringComparison.Ordinal) == true)
                {
                    try
                    {
                        p.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                    firstTable.TrySetResult();
                }
            }
            p.OutputDataReceived += OnLine;
            p.ErrorDataReceived += OnLine;
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            await Task.WhenAny(firstTable.Task, p.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(2)));
            Assert.True(firstTable.Task.IsCompleted, "no table was reported copied: " + output);
            await p.WaitForExitAsync();
        }
        var afterKill = await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pgshift.copy_tables WHERE status = 'done'");
        Assert.True(afterKill >= 1 && afterKill < tables.Length, $"expected the kill mid-copy; {afterKill} tables done; output:\n{output}");
        await Task.Delay(500);
        Assert.Equal(afterKill, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pgshift.copy_tables WHERE status = 'done'"));

        var status = await PgShiftProcess.RunAsync(["status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "killme"]);
        Assert.True(status.ExitCode == 0, status.All);
        Assert.True(status.Stdout.Contains("phase    copy", StringComparison.Ordinal), status.Stdout);
        Assert.Matches(@"copy     [1-5]/6 tables", status.Stdout);

        var rerun = await PgShiftProcess.RunAsync(args);
        Assert.True(rerun.ExitCode == 0, rerun.All);
        Assert.Matches(@"already copied\)", rerun.Stdout);
        Assert.DoesNotContain("(0 already copied)", rerun.Stdout, StringComparison.Ordinal);
        Assert.Equal(await CopyFixture.ChecksumsAsync(pair.Source, pair.SourceDb, tables), await CopyFixture.ChecksumsAsync(pair.Target, pair.TargetDb, tables));
        Assert.Equal(6L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text LIKE 't_'"));

        var finished = await PgShiftProcess.RunAsync(["status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "killme", "--json"]);
        Assert.Contains("\"phase\": \"finished\"", finished.Stdout, StringComparison.Ordinal);
    }
}
