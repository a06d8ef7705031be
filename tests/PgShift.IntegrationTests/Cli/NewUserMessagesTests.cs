using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>What a new user meets first (help, a password left out, a bad task file, status after cleanup), said in words.</summary>
public sealed class NewUserMessagesTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private string[] Servers => ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb)];

    [Fact]
    public async Task Status_after_cleanup_says_the_slot_is_dropped_rather_than_showing_it_as_there()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA cl; CREATE TABLE cl.t (id int PRIMARY KEY); INSERT INTO cl.t SELECT generate_series(1, 10);");
        string[] task = [.. Servers, "--task", "cleaned", "--include-schema", "cl"];
        await using (var migrate = new PgShiftBackground(["migrate", .. task]))
        {
            await migrate.WaitForAsync("stream: applying changes", TimeSpan.FromMinutes(2));
            var cutover = await PgShiftProcess.RunAsync(["cutover", .. Servers, "--task", "cleaned", "--no-verify"]);
            Assert.True(cutover.ExitCode == 0, cutover.All);
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        }
        var before = await PgShiftProcess.RunAsync(["status", "--target", Servers[3], "--task", "cleaned"]);
        Assert.Contains("slot     pgshift_cleaned, consistent at", before.Stdout, StringComparison.Ordinal);

        var cleanup = await PgShiftProcess.RunAsync(["cleanup", .. Servers, "--task", "cleaned"]);
        Assert.True(cleanup.ExitCode == 0, cleanup.All);
        var after = await PgShiftProcess.RunAsync(["status", "--target", Servers[3], "--task", "cleaned"]);
        Assert.True(after.ExitCode == 0, after.All);
        Assert.Contains("slot     pgshift_cleaned dropped on the source by 'pgshift cleanup' at", after.Stdout, StringComparison.Ordinal);
        Assert.Contains("its slot is dropped", after.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("slot keeps", after.Stdout, StringComparison.Ordinal);
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>("postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_cleaned'"));
    }

    [Fact]
    public async Task A_password_left_out_is_said_with_the_ways_to_give_one()
    {
        var role = "nopw_" + Guid.NewGuid().ToString("N")[..8];
        await pair.Target.ExecuteAsync("postgres", $"SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} LOGIN PASSWORD 'a-Password-1'; GRANT {TestServer.PasswordGroup} TO {role};");
        var result = await PgShiftProcess.RunAsync(["status", "--target", $"postgres://{role}@{pair.Target.Host}:{pair.Target.Port}/{pair.TargetDb}", "--task", "any"],
            new Dictionary<string, string> { ["HOME"] = "/nonexistent", ["PGPASSWORD"] = "", ["PGPASSFILE"] = "/nonexistent/pgpass" });
        Assert.True(result.ExitCode == 2, result.All);
        Assert.Contains($"asks user \"{role}\" for a password, and none was given", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("fix: Give it one of the ways libpq takes: in the connection string (in a URI after the user name and a colon", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("PGPASSWORD", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("~/.pgpass", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("precheck")]
    [InlineData("migrate")]
    [InlineData("status")]
    [InlineData("stop")]
    [InlineData("cutover")]
    [InlineData("verify")]
    [InlineData("cleanup")]
    public async Task Every_command_states_its_exit_codes_and_offers_the_retry_window_only_where_it_retries(string command)
    {
        var help = await PgShiftProcess.RunAsync([command, "--help"]);
        Assert.True(help.ExitCode == 0, help.All);
        Assert.Matches(@"Exit code 0 when [^\n]+", help.Stdout);
        Assert.Contains(", 2 ", help.Stdout.Replace("\n", " ", StringComparison.Ordinal).Replace("  ", " ", StringComparison.Ordinal), StringComparison.Ordinal);
        var retries = command is "migrate" or "cutover";
        Assert.Equal(retries, help.Stdout.Contains("--retry-window", StringComparison.Ordinal));
        if (!retries)
        {
            var given = await PgShiftProcess.RunAsync([command, "--retry-window", "1h", "--target", "postgres://u@127.0.0.1:1/db", "--task", "t"]);
            Assert.True(given.ExitCode == 2, given.All);
            Assert.Contains("--retry-window", given.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_task_file_with_a_wrong_value_names_the_key_and_the_line_without_type_names()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgshift-task-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, "task: app\njobs: [1, 2]\n");
        try
        {
            var result = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--task-file", path]);
            Assert.True(result.ExitCode == 2, result.All);
            Assert.Contains("line 2: jobs must be a whole number (e.g. 4), not a list", result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", result.All, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
