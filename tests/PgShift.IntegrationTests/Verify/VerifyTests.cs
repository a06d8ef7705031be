using Microsoft.Extensions.Logging.Abstractions;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.IntegrationTests.Stream;
using PgShift.Replication;
using PgShift.Settings;
using PgShift.State;
using PgShift.Tasks;
using PgShift.Verify;

namespace PgShift.IntegrationTests.Verify;

public abstract class VerifyTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private async Task<(string Src, string Tgt)> MigratedAsync(string task, bool incremental)
    {
        var src = await CreateAsync(source, "vsrc");
        var tgt = await CreateAsync(target, "vtgt");
        await source.ExecuteAsync(src, StreamFixture.Schema + "INSERT INTO keyed SELECT g, 'more' FROM generate_series(101, 30000) g;");
        if (!incremental)
        {
            var result = await new MigrationTask(NullLogger.Instance).RunAsync(Options(src, tgt, task, incremental: false), cutover: false, CancellationToken.None);
            Assert.True(result.Finished);
        }
        return (src, tgt);
    }

    private TaskSettings Options(string src, string tgt, string task, bool incremental) => new()
    {
        Source = source.Spec(src), Target = target.Spec(tgt), TaskName = task, Incremental = incremental, Jobs = 2, RetryWindow = TimeSpan.FromSeconds(30),
    };

    private VerifyOptions VerifyOptions(string src, string tgt, string task, int rechecks = 0) => new()
    {
        Source = source.Spec(src), Target = target.Spec(tgt), TaskName = task, ChunkRows = 5000, Rechecks = rechecks, RecheckDelay = TimeSpan.FromMilliseconds(500),
    };

    [Fact]
    public async Task Clean_migration_verifies_equal()
    {
        var task = "verify_clean_" + Run;
        var (src, tgt) = await MigratedAsync(task, incremental: false);
        var report = await new Verifier().VerifyAsync(VerifyOptions(src, tgt, task), CancellationToken.None);
        Assert.True(report.Equal, Describe(report));
        Assert.Equal(StreamFixture.Tables.Length, report.Tables.Count);
        Assert.True(report.Tables.Single(t => t.Table == "\"public\".\"keyed\"").Chunks > 1, "keyed should be compared in several key ranges");
        Assert.Contains(report.Sequences, s => s.Sequence == "\"public\".\"counter\"" && s.State == "equal");
    }

    [Fact]
    public async Task Damage_on_the_target_is_reported_with_exactly_its_tables_and_key_ranges()
    {
        var task = "verify_damage_" + Run;
        var (src, tgt) = await MigratedAsync(task, incremental: false);
        await target.ExecuteAsync(tgt, """
            UPDATE keyed SET v = 'tampered' WHERE k = 12345;
            SET session_replication_role = replica;
            DELETE FROM parent WHERE id = 7;
            INSERT INTO "Odd Schema"."Mixed Case" VALUES (999, 'extra', 1);
            UPDATE items SET big = overlay(big placing 'Z' from 5000 for 1) WHERE id = 100;
            SELECT setval('counter', 1, false);
            """);
        var report = await new Verifier().VerifyAsync(VerifyOptions(src, tgt, task), CancellationToken.None);
        Assert.False(report.Equal);
        var differing = report.Tables.Where(t => !t.Equal).Select(t => t.Table).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "\"Odd Schema\".\"Mixed Case\"", "\"public\".\"items\"", "\"public\".\"keyed\"", "\"public\".\"parent\"" }, differing);

        var keyed = report.Tables.Single(t => t.Table == "\"public\".\"keyed\"");
        var chunk = Assert.Single(keyed.Differences);
        Assert.Contains("k in [", chunk.Range, StringComparison.Ordinal);
        Assert.Contains("k=12345 (differs)", chunk.ExampleKeys);
        Assert.Contains("id=7 (missing on the target)", report.Tables.Single(t => t.Table == "\"public\".\"parent\"").Differences.Single().ExampleKeys);
        Assert.Contains("Key=999 (extra on the target)", report.Tables.Single(t => t.Table == "\"Odd Schema\".\"Mixed Case\"").Differences.Single().ExampleKeys);
        Assert.Contains("id=100 (differs)", report.Tables.Single(t => t.Table == "\"public\".\"items\"").Differences.Single().ExampleKeys);
        Assert.Contains(report.Sequences, s => s.Sequence == "\"public\".\"counter\"" && s.State == "differs");
    }

    [Fact]
    public async Task A_dropped_index_is_reported_missing()
    {
        var task = "verify_index_" + Run;
        var (src, tgt) = await MigratedAsync(task, incremental: false);
        await source.ExecuteAsync(src, "CREATE INDEX items_name ON items (name)");
        await target.ExecuteAsync(tgt, "ALTER TABLE child DROP CONSTRAINT child_parent_id_fkey");
        var report = await new Verifier().VerifyAsync(VerifyOptions(src, tgt, task), CancellationToken.None);
        Assert.Contains("\"public\".\"items\": index items_name", report.MissingObjects);
        Assert.Contains("\"public\".\"child\": constraint f child_parent_id_fkey", report.MissingObjects);
        Assert.Empty(report.ExtraObjects);
    }

    [Fact]
    public async Task Verify_is_equal_while_writes_continue_and_the_streamRuns()
    {
        var task = "verify_live_" + Run;
        var (src, tgt) = await MigratedAsync(task, incremental: true);
        var running = await StreamingRun.StartAsync(Options(src, tgt, task, incremental: true));

        using var stopWrites = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            for (var round = 1; round <= 40 && !stopWrites.IsCancellationRequested; round++)
            {
                await StreamFixture.WriteAsync(source, src, round);
                await Task.Delay(100);
            }
        });
        var report = await new Verifier().VerifyAsync(VerifyOptions(src, tgt, task, rechecks: 20), CancellationToken.None);
        await stopWrites.CancelAsync();
        await writes;
        Assert.True(report.Equal, Describe(report));
        // While it streams, sequences are not synced yet, and are shown as such, not as differences.
        Assert.All(report.Sequences, s => Assert.True(s.Equal, $"{s.Sequence}: {s.State}"));

        // A cutover request lives as long as the session that made it (a waiting 'pgshift cutover' holds it open).
        await using var cutoverSession = await target.OpenAsync(tgt);
        await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
        Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(2))).Finished);
        var final = await new Verifier().VerifyAsync(VerifyOptions(src, tgt, task), CancellationToken.None);
        Assert.True(final.Equal, Describe(final));
        Assert.All(final.Sequences, s => Assert.Equal("equal", s.State));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    private static string Describe(VerifyReport r) => string.Join("\n",
        r.Tables.Where(t => !t.Equal).Select(t => $"{t.Table}: {string.Join("; ", t.Differences.Select(d => $"{d.Range} {d.SourceRows}/{d.TargetRows} {string.Join(",", d.ExampleKeys)}"))}")
            .Concat(r.MissingObjects.Select(o => "missing " + o)).Concat(r.ExtraObjects.Select(o => "extra " + o))
            .Concat(r.Sequences.Where(s => !s.Equal).Select(s => $"sequence {s.Sequence} {s.SourceValue}/{s.TargetValue} {s.State}")));
}

public sealed class VerifyTests_12_to_17() : VerifyTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class VerifyTests_15_to_17() : VerifyTestsBase(TestServer.Pg15, TestServer.Pg17);
