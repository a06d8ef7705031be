using System.Text.Json;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

public sealed class PrecheckCliTests(Pg12To17 pair) : IClassFixture<Pg12To17>
{
    [Fact]
    public async Task Json_output_lists_checks_with_stable_ids_and_exit_code_1_on_failure()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA app; CREATE TABLE app.keyed (id int PRIMARY KEY); CREATE TABLE app.nokey (v text);");
        var result = await PgShiftProcess.RunAsync(["precheck", "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--include-schema", "app", "--json"]);
        Assert.Equal(1, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.False(doc.RootElement.GetProperty("passed").GetBoolean());
        var checks = doc.RootElement.GetProperty("checks").EnumerateArray().ToList();
        Assert.All(checks, c =>
        {
            Assert.Contains(c.GetProperty("status").GetString(), new[] { "passed", "warning", "failed" });
            Assert.False(string.IsNullOrEmpty(c.GetProperty("message").GetString()));
        });
        var failed = checks.Where(c => c.GetProperty("status").GetString() == "failed").ToList();
        Assert.Single(failed);
        Assert.Equal("source.replica_identity", failed[0].GetProperty("id").GetString());
        Assert.Contains("\"app\".\"nokey\"", failed[0].GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("REPLICA IDENTITY FULL", failed[0].GetProperty("fix").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_output_passes_with_exit_code_0()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA ok; CREATE TABLE ok.t (id int PRIMARY KEY);");
        var result = await PgShiftProcess.RunAsync(["precheck", "-s", pair.Source.KeywordValue(pair.SourceDb), "-t", pair.Target.KeywordValue(pair.TargetDb), "--include-schema", "ok"]);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("passed   source.wal_level", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Precheck passed", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_never_appears_in_output_of_a_failed_login()
    {
        var secret = "Pw-" + Guid.NewGuid().ToString("N")[..12];
        var result = await PgShiftProcess.RunAsync(["precheck", "--source", $"postgres://nobody:{secret}@127.0.0.1:{pair.Source.Port}/{pair.SourceDb}", "--target", $"postgresql://postgres:{secret}@127.0.0.1:{pair.Target.Port}/{pair.TargetDb}"]);
        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain(secret, result.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_unbuilt_commands_say_so()
    {
        var missing = await PgShiftProcess.RunAsync(["precheck", "--source", pair.Source.KeywordValue(pair.SourceDb)]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("Missing --target", missing.Stderr, StringComparison.Ordinal);

        var unknown = await PgShiftProcess.RunAsync(["precheck", "--frobnicate"]);
        Assert.Equal(2, unknown.ExitCode);

        var badTask = await PgShiftProcess.RunAsync(["precheck", "-s", "host=h", "-t", "host=h", "--task", "Bad-Name"]);
        Assert.Equal(2, badTask.ExitCode);
        Assert.Contains("Task name 'Bad-Name' is not valid", badTask.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Task_file_supplies_servers_and_selection()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA tf; CREATE TABLE tf.keep (id int PRIMARY KEY); CREATE TABLE tf.skip_me (v int);");
        var file = Path.Combine(Directory.CreateTempSubdirectory("pgshift-taskfile").FullName, "task.yaml");
        await File.WriteAllTextAsync(file, $"""
            task: tf_task
            source: "{pair.Source.KeywordValue(pair.SourceDb)}"
            target: "{pair.Target.KeywordValue(pair.TargetDb)}"
            include_schemas: [tf]
            exclude_tables: ["tf.skip_*"]
            """);
        var result = await PgShiftProcess.RunAsync(["precheck", "--task-file", file, "--json"]);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("1 table selected", result.Stdout, StringComparison.Ordinal);
    }
}

public sealed class MigrateCliTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    [Fact]
    public async Task Migrate_refuses_to_start_when_the_precheck_fails_and_changes_nothing()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA refuse; CREATE TABLE refuse.nokey (v text);");
        var before = (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb));
        var result = await PgShiftProcess.RunAsync(["migrate", "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb),
            "--task", "refuse", "--include-schema", "refuse"]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("[source.replica_identity]", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("REPLICA IDENTITY FULL", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb)));
    }

    [Fact]
    public async Task Migrate_schema_creates_tables_and_keys_and_bad_types_exit_2()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY, v text); CREATE INDEX t_v ON app.t (v);");
        var args = new[] { "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "cli_schema" };
        var bad = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,everything", .. args]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("Unknown migration type 'everything'", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'"));

        var result = await PgShiftProcess.RunAsync(["migrate", "--types", "schema", .. args]);
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Contains("Schema of task cli_schema", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(2L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_index WHERE indrelid = 'app.t'::regclass"));
        Assert.Equal("finished", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT phase FROM pgshift.tasks WHERE name = 'cli_schema'"));
    }
}
