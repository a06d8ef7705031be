using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// A task keeps the settings it started with: a later 'pgshift cutover' or 'pgshift verify' without any selection works
/// on the task's tables only, a cutover that runs the stream itself applies the task's conflict policy, and a command
/// line whose selection contradicts the task's is refused before it changes anything.
/// </summary>
public sealed class TaskSettingsTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    [Fact]
    public async Task Cutover_and_verify_use_the_selection_and_conflict_policy_the_task_started_with()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE TABLE w (id int PRIMARY KEY, v text); INSERT INTO w SELECT g, 'w' FROM generate_series(1, 100) g;
            CREATE TABLE x (id int PRIMARY KEY); INSERT INTO x SELECT generate_series(1, 10);
            CREATE TABLE y (id int PRIMARY KEY); INSERT INTO y SELECT generate_series(1, 10);
            """);
        var servers = new[] { "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "kept" };

        await using (var migrate = new PgShiftBackground(["migrate", "--include-table", "w", "--on-conflict", "ignore", "--jobs", "3", .. servers]))
        {
            await migrate.WaitForAsync("stream: applying changes", TimeSpan.FromMinutes(2));
            Assert.Equal(0, (await PgShiftProcess.RunAsync(["stop", .. servers])).ExitCode);
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        }
        Assert.Equal("""{"jobs": 3, "types": ["schema", "full", "incremental"], "on_conflict": "ignore", "include_tables": ["w"]}""",
            await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT settings::text FROM pgshift.tasks WHERE name = 'kept'"));

        // A row that is on the target already arrives from the source: under the task's --on-conflict ignore it is skipped.
        await pair.Target.ExecuteAsync(pair.TargetDb, "INSERT INTO w VALUES (1000, 'both')");
        await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO w VALUES (1000, 'both'), (1001, 'new'); UPDATE w SET v = 'changed' WHERE id <= 10;");

        // A contradicting selection is refused, and changes nothing.
        var refused = await PgShiftProcess.RunAsync(["verify", "--exclude-table", "w", .. servers]);
        Assert.True(refused.ExitCode == 2, refused.All);
        Assert.Contains("differs from the one task kept started with", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("exclude tables: [w] here, [] for the task", refused.Stderr, StringComparison.Ordinal);

        // No migrate process runs: the cutover streams itself, with the task's policy and jobs, and verifies the task's table only.
        // Its tuning that differs from the task's own (the retry window) wins, and says so.
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--timeout", "2m", "--verbose", "--retry-window", "5m", .. servers], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All);
        Assert.Contains("note: retry window 5m given here is used instead of the default", cutover.Stderr, StringComparison.Ordinal);
        Assert.Contains("Task kept: 3 jobs, conflict policy ignore", cutover.All, StringComparison.Ordinal);
        Assert.Contains("Skipped 1 conflicting changes", cutover.All, StringComparison.Ordinal);
        Assert.DoesNotContain("MISSING", cutover.Stdout, StringComparison.Ordinal);
        Assert.Equal(102L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM w"));
        Assert.Equal(10L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM w WHERE v = 'changed'"));

        var verify = await PgShiftProcess.RunAsync(["verify", .. servers]);
        Assert.True(verify.ExitCode == 0, verify.All);
        Assert.DoesNotContain("\"x\"", verify.Stdout, StringComparison.Ordinal);
        await PgShiftProcess.RunAsync(["cleanup", .. servers]);
    }
}
