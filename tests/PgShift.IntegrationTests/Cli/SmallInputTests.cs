using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>Bad input that used to be accepted or answered the wrong question: each is refused with the fix and changes nothing.</summary>
public sealed class SmallInputTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private string[] Servers => ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb)];

    [Fact]
    public async Task Incremental_alone_for_a_new_task_leaves_nothing_so_the_next_run_still_runs_the_precheck()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA inc; CREATE TABLE inc.nokey (v text);");
        // A target database of its own: the other tests of the class create tasks (and so the state schema) in theirs.
        var targetDb = await pair.Target.CreateDatabaseAsync("inc");
        string[] servers = ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(targetDb)];
        Task<long> StateSchemasAsync() => pair.Target.ScalarAsync<long>(targetDb, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'");
        var first = await PgShiftProcess.RunAsync(["migrate", .. servers, "--task", "inc_only", "--include-schema", "inc", "--types", "incremental"]);
        Assert.True(first.ExitCode == 1, first.All);
        Assert.Contains("Task inc_only does not exist on the target yet, and --types incremental cannot start it", first.Stderr, StringComparison.Ordinal);
        Assert.Contains("--types schema,full,incremental", first.Stderr, StringComparison.Ordinal);
        Assert.Equal(0L, await StateSchemasAsync());

        // The table has no replica identity: a new task's precheck refuses it, which it would skip for a task row left behind.
        var next = await PgShiftProcess.RunAsync(["migrate", .. servers, "--task", "inc_only", "--include-schema", "inc"]);
        Assert.True(next.ExitCode == 1, next.All);
        Assert.Contains("The precheck failed, so task inc_only did not start: [source.replica_identity]", next.Stderr, StringComparison.Ordinal);
        Assert.Equal(0L, await StateSchemasAsync());
        await pair.Target.DropDatabaseAsync(targetDb);
    }

    [Fact]
    public async Task Verify_of_an_unknown_task_says_so_and_lists_the_tasks()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA ver; CREATE TABLE ver.t (id int PRIMARY KEY);");
        var none = await PgShiftProcess.RunAsync(["verify", .. Servers, "--task", "nosuch_task"]);
        Assert.True(none.ExitCode == 2, none.All);
        Assert.Contains("No task named nosuch_task on the target", none.Stderr, StringComparison.Ordinal);
        Assert.Contains("it holds no PgShift task", none.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Verify:", none.Stdout, StringComparison.Ordinal);

        var made = await PgShiftProcess.RunAsync(["migrate", .. Servers, "--task", "ver_real", "--include-schema", "ver", "--types", "schema"]);
        Assert.True(made.ExitCode == 0, made.All);
        var other = await PgShiftProcess.RunAsync(["verify", .. Servers, "--task", "ver_typo"]);
        Assert.True(other.ExitCode == 2, other.All);
        Assert.Contains("its tasks: ver_real", other.Stderr, StringComparison.Ordinal);
        Assert.Contains("--task ver_real", other.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_target_database_exits_like_a_missing_source_database()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA miss; CREATE TABLE miss.t (id int PRIMARY KEY);");
        var noSource = await PgShiftProcess.RunAsync(["migrate", "--source", pair.Source.KeywordValue("nosuch_db"), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "miss"]);
        var noTarget = await PgShiftProcess.RunAsync(["migrate", "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue("nosuch_db"), "--task", "miss"]);
        Assert.True(noSource.ExitCode == 1, noSource.All);
        Assert.True(noTarget.ExitCode == 1, noTarget.All);
        Assert.Contains("[target.connect] Cannot connect to the target: Database \"nosuch_db\" does not exist", noTarget.Stderr, StringComparison.Ordinal);
        Assert.Contains("fix: Check the database name", noTarget.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--jobs", "0", "--jobs '0' is not a number of parallel connections")]
    [InlineData("--jobs", "-3", "--jobs '-3' is not a number of parallel connections")]
    [InlineData("--jobs", "many", "--jobs 'many' is not a number of parallel connections")]
    [InlineData("--split-threshold-mb", "-1", "--split-threshold-mb '-1' is not a size in MB above 0")]
    public async Task Impossible_jobs_and_split_threshold_are_refused(string option, string value, string expected)
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA IF NOT EXISTS jobs; CREATE TABLE IF NOT EXISTS jobs.t (id int PRIMARY KEY);");
        var result = await PgShiftProcess.RunAsync(["migrate", .. Servers, "--task", "jobs", "--include-schema", "jobs", $"{option}={value}"]);
        Assert.True(result.ExitCode == 2, result.All);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("fix: Give ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.All, StringComparison.Ordinal);
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_namespace WHERE nspname = 'jobs'"));
    }
}
