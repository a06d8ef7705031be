using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// The slot read from the first second (DESIGN.md, invariant 8): writes made while the tables are copied and indexed
/// are staged on the target, the slot acknowledged during the copy, and after cutover every table equals the source,
/// whether or not the process was killed (kill -9) while staging, during post-data, while applying what was staged
/// (before and after part of it is committed), or while streaming.
/// </summary>
public abstract class CaptureDuringCopyTests(ServerPair servers) : IAsyncLifetime
{
    /// <summary>Databases of this test's own (each test of the class writes the same tables).</summary>
    private sealed record Dbs(TestServer Source, string SourceDb, TestServer Target, string TargetDb);

    private Dbs pair = null!;

    public async Task InitializeAsync() => pair = new Dbs(servers.Source, await servers.Source.CreateDatabaseAsync("capsrc"), servers.Target, await servers.Target.CreateDatabaseAsync("captgt"));

    public async Task DisposeAsync()
    {
        await pair.Source.DropDatabaseAsync(pair.SourceDb);
        await pair.Target.DropDatabaseAsync(pair.TargetDb);
    }

    /// <summary>Four tables that take a while to copy and to index (one job), besides the stream fixture's.</summary>
    private const string BigTables = """
        CREATE TABLE big1 (id int PRIMARY KEY, a text, b text, n int);
        CREATE TABLE big2 (id int PRIMARY KEY, a text, b text, n int);
        CREATE TABLE big3 (id int PRIMARY KEY, a text, b text, n int);
        CREATE TABLE big4 (id int PRIMARY KEY, a text, b text, n int);
        INSERT INTO big1 SELECT g, md5(g::text), md5((g * 7)::text), g % 1000 FROM generate_series(1, 250000) g;
        INSERT INTO big2 SELECT * FROM big1;
        INSERT INTO big3 SELECT * FROM big1;
        INSERT INTO big4 SELECT * FROM big1;
        CREATE INDEX ON big1 (a); CREATE INDEX ON big1 (b, a);
        CREATE INDEX ON big2 (a); CREATE INDEX ON big2 (b, a);
        CREATE INDEX ON big3 (a); CREATE INDEX ON big3 (b, a);
        CREATE INDEX ON big4 (a); CREATE INDEX ON big4 (b, a);
        CREATE TABLE wide (id int PRIMARY KEY, v text);
        INSERT INTO wide SELECT g, 'initial' FROM generate_series(1, 100000) g;
        """;

    /// <summary>
    /// One job, and a copy rate that makes the copy last 20 s or more (about 80 MB) on any machine: the tests look at
    /// applying during the copy, which needs a table copied and indexed while others still copy (unthrottled, a fast
    /// machine copied everything before the first round applied).
    /// </summary>
    private static readonly string[] CopyForAWhile = ["--jobs", "1", "--max-copy-rate", "4MB"];

    /// <summary>
    /// A small table copied at once, and one that takes about 20 s to copy at 2 MB/s (40 MB): with two jobs they copy
    /// side by side, and the small one receives its changes while the other copies.
    /// </summary>
    private const string EarlyAndSlow = """
        CREATE TABLE early (id int PRIMARY KEY, v int);
        INSERT INTO early SELECT g, 0 FROM generate_series(1, 1000) g;
        CREATE TABLE slow (id int PRIMARY KEY, pad text);
        INSERT INTO slow SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 150000) g;
        """;

    private static readonly string[] Tables = [.. StreamFixture.Tables, "public.big1", "public.big2", "public.big3", "public.big4", "public.wide"];

    private string[] Args(string task) =>
        ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task, "--retry-window", "2m"];

    /// <summary>Writes of every kind, round after round, until cancelled; a big transaction now and then; the phases it wrote in.</summary>
    private async Task<HashSet<string>> WriteUntilAsync(string task, CancellationToken stop)
    {
        var phases = new HashSet<string>();
        // The phase is read between every two writes: the post-data phase may last only a few seconds.
        async Task NotePhaseAsync()
        {
            if (await pair.Target.ScalarAsync<string?>(pair.TargetDb, $"SELECT phase FROM pgshift.tasks WHERE name = '{task}'") is { } phase)
            {
                phases.Add(phase);
            }
        }
        for (var round = 1; !stop.IsCancellationRequested; round++)
        {
            await NotePhaseAsync();
            // The fixture's writes give each round keys of its own up to round 99.
            if (round < 100)
            {
                await StreamFixture.WriteAsync(pair.Source, pair.SourceDb, round);
            }
            else
            {
                await Task.Delay(100, CancellationToken.None);
            }
            await NotePhaseAsync();
            await pair.Source.ExecuteAsync(pair.SourceDb, $"UPDATE big{1 + round % 4} SET n = n + 1 WHERE id % 97 = {round % 97}");
            if (round % 10 == 1)
            {
                await NotePhaseAsync();
                // Tens of thousands of changes in one source transaction.
                await pair.Source.ExecuteAsync(pair.SourceDb, $"UPDATE wide SET v = 'round {round}' WHERE id % 2 = {round % 2}");
            }
        }
        await NotePhaseAsync();
        return phases;
    }

    private Task<T?> StateAsync<T>(string task, string column) => pair.Target.ScalarAsync<T>(pair.TargetDb, $"SELECT {column} FROM pgshift.tasks WHERE name = '{task}'");

    /// <summary>Whether a table's sync LSN is beyond the slot's consistent point: changes were applied to it during the copy.</summary>
    private Task<bool> SyncRaisedAsync(string task) => pair.Target.ScalarAsync<bool>(pair.TargetDb, $"""
        SELECT EXISTS (SELECT 1 FROM pgshift.copy_tables c JOIN pgshift.tasks t ON t.name = c.task
                       WHERE c.task = '{task}' AND c.sync_lsn > t.consistent_lsn)
        """);

    private async Task WaitUntilAsync(Func<Task<bool>> condition, string what, PgShiftBackground process)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline && !process.HasExited, $"timed out waiting until {what}; output:\n{process.Output}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Writes_during_copy_and_post_data_are_staged_acknowledged_and_applied_once()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, StreamFixture.Schema + BigTables);
        const string task = "capture";
        using var stopWriting = new CancellationTokenSource();
        await using var migrate = new PgShiftBackground(["migrate", "--verbose", .. CopyForAWhile, .. Args(task)]);
        await migrate.WaitForAsync("Staging the changes", TimeSpan.FromMinutes(2));
        var writer = Task.Run(() => WriteUntilAsync(task, stopWriting.Token));

        // While the tables still copy, the slot is acknowledged beyond its consistent point: the source recycles the copy's WAL.
        await WaitUntilAsync(async () => await StateAsync<long>(task, "staged_changes") > 0 && await pair.Source.ScalarAsync<bool>(pair.SourceDb,
            $"SELECT confirmed_flush_lsn > '{await StateAsync<string>(task, "consistent_lsn::text")}'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'pgshift_{task}'"),
            "changes are staged and acknowledged", migrate);
        Assert.Contains(await StateAsync<string>(task, "phase"), new[] { "copy", "post-data", "schema" });
        var status = await PgShiftProcess.RunAsync(["status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task]);
        Assert.Matches(@"staged   [\d,]+ changes? \([\d.]+ MB on the target\)(, [\d,]+ applied to the tables already copied)?; the slot keeps [\d.]+ MB of WAL on the source", status.Stdout);

        // A table copied and indexed receives its staged changes while the others still copy: its sync LSN moves on.
        await WaitUntilAsync(() => SyncRaisedAsync(task), "a copied table's staged changes are applied during the copy", migrate);
        Assert.Equal("copy", await StateAsync<string>(task, "phase"));

        await migrate.WaitForAsync("Applied the changes staged during the copy", TimeSpan.FromMinutes(3));
        await stopWriting.CancelAsync();
        var phases = await writer;
        Assert.Contains("copy", phases);
        Assert.Contains("post-data", phases);

        var cutover = await PgShiftProcess.RunAsync(["cutover", .. Args(task)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + migrate.Output);
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await CopyFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb, Tables);
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, $"SELECT count(*) FROM pgshift.staged_changes WHERE task = '{task}'"));
        await PgShiftProcess.RunAsync(["cleanup", .. Args(task)]);
    }

    [Fact]
    public async Task A_schema_change_captured_during_the_copy_ends_applying_during_the_copy_and_is_applied_in_its_place()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, EarlyAndSlow);
        const string task = "capddl";
        await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--jobs", "2", "--max-copy-rate", "2MB", .. Args(task)]);
        await migrate.WaitForAsync("Staging the changes", TimeSpan.FromMinutes(2));
        await migrate.WaitForAsync("Copied \"public\".\"early\"", TimeSpan.FromMinutes(2));
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE early SET v = v + 1 WHERE id <= 100; INSERT INTO slow VALUES (-1, 'during the copy')");
        await WaitUntilAsync(async () => await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM early WHERE v = 1") == 100,
            "the small table's staged changes are on the target during the copy", migrate);
        Assert.Equal("copy", await StateAsync<string>(task, "phase"));
        Assert.True(await SyncRaisedAsync(task));
        var status = await PgShiftProcess.RunAsync(["status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task]);
        Assert.Matches(@"staged   [\d,]+ changes? \([\d.]+ MB on the target\), [1-9][\d,]* applied to the tables already copied; the slot keeps", status.Stdout);

        // Changes before, in and after the schema change's transaction; then the columns that the target must follow.
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            UPDATE early SET v = v + 10 WHERE id <= 200;
            BEGIN;
            UPDATE early SET v = v + 100 WHERE id <= 300;
            ALTER TABLE early ADD COLUMN extra text DEFAULT 'new';
            UPDATE early SET extra = 'set ' || id WHERE id % 7 = 0;
            COMMIT;
            UPDATE early SET v = -v, extra = 'after' WHERE id % 11 = 0;
            DELETE FROM early WHERE id % 13 = 0;
            INSERT INTO early (id, v) VALUES (5000, 5000);
            """);
        await migrate.WaitForAsync("Applying during the copy stops here: a schema change was captured", TimeSpan.FromMinutes(1));
        Assert.Equal("copy", await StateAsync<string>(task, "phase"));
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE early SET extra = 'late' WHERE id % 5 = 0; UPDATE slow SET pad = 'changed' WHERE id % 1000 = 0");

        await migrate.WaitForAsync("Streaming changes of task", TimeSpan.FromMinutes(3));
        Assert.Contains("Applying schema change 1 of task capddl: ALTER TABLE early ADD COLUMN extra text DEFAULT 'new'", migrate.Output);
        var cutover = await PgShiftProcess.RunAsync(["cutover", .. Args(task)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + migrate.Output);
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await CopyFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb, ["public.early", "public.slow"]);
        // The digests compare every column; the schema change's values are there besides.
        Assert.Equal(186L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM early WHERE extra = 'late'"));
        await PgShiftProcess.RunAsync(["cleanup", .. Args(task)]);
    }

    [Fact]
    public async Task After_a_kill_during_the_copy_the_tables_an_earlier_run_copied_receive_their_changes_while_the_rest_copies()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, EarlyAndSlow);
        const string task = "capresume";
        // Two jobs: the small table is copied at once, the other takes about 20 s at this rate (and again after the kill).
        string[] migrateArgs = ["migrate", "--verbose", "--jobs", "2", "--max-copy-rate", "2MB", .. Args(task)];
        await using (var first = new PgShiftBackground(migrateArgs))
        {
            await first.WaitForAsync("Copied \"public\".\"early\"", TimeSpan.FromMinutes(2));
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE early SET v = v + 1 WHERE id <= 100");

        await using var second = new PgShiftBackground(migrateArgs);
        await second.WaitForAsync("1 tables already copied", TimeSpan.FromMinutes(2));
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE early SET v = v + 1 WHERE id <= 200; DELETE FROM early WHERE id > 990");
        await WaitUntilAsync(async () => await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM early WHERE v = 2") == 100
                && await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM early") == 990,
            "the table copied by the killed run has its changes while the other copies", second);
        Assert.Equal("copy", await StateAsync<string>(task, "phase"));
        Assert.DoesNotContain("Copied \"public\".\"slow\"", second.Output);

        await second.WaitForAsync("Streaming changes of task", TimeSpan.FromMinutes(3));
        var cutover = await PgShiftProcess.RunAsync(["cutover", .. Args(task)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + second.Output);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await CopyFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb, ["public.early", "public.slow"]);
        await PgShiftProcess.RunAsync(["cleanup", .. Args(task)]);
    }

    [Fact]
    public async Task A_long_replay_of_what_was_staged_shows_its_delay_and_stops_on_request_between_two_transactions()
    {
        // One table: nothing is applied during the copy, everything staged waits for the replay, which the apply rate
        // makes last about 20 s.
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE TABLE queue (id int PRIMARY KEY, v int, pad text);
            INSERT INTO queue SELECT g, 0, md5(g::text) FROM generate_series(1, 100000) g;
            """);
        const string task = "capreplay";
        string[] migrateArgs = ["migrate", "--verbose", "--jobs", "1", "--max-copy-rate", "1MB", "--max-apply-rate", "2000", .. Args(task)];
        var statusArgs = new[] { "status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task };
        await using (var first = new PgShiftBackground(migrateArgs))
        {
            await first.WaitForAsync("Staging the changes", TimeSpan.FromMinutes(2));
            // 40 source transactions of 1,000 changes each, made while the table copies.
            for (var i = 0; i < 40; i++)
            {
                await pair.Source.ExecuteAsync(pair.SourceDb, $"UPDATE queue SET v = v + 1 WHERE id <= 40000 AND id % 40 = {i}");
            }
            Assert.Equal("copy", await StateAsync<string>(task, "phase"));
            await first.WaitForAsync("changes of task capreplay staged during the copy", TimeSpan.FromMinutes(2));

            // While it replays, the stream runs: its delay and the staged changes being applied show in `status`.
            await WaitUntilAsync(async () =>
            {
                var status = await PgShiftProcess.RunAsync(statusArgs);
                return status.Stdout.Contains("being applied by the stream", StringComparison.Ordinal)
                    && System.Text.RegularExpressions.Regex.IsMatch(status.Stdout, @"stream   delay [\d.]+ s, [\d,]+ KB; [\d,]+ changes? applied");
            }, "status shows the replay's delay", first);
            Assert.DoesNotContain("Applied the changes staged during the copy", first.Output);

            // A stop request ends it where it stands: what was applied is committed, the rest stays staged.
            var stop = await PgShiftProcess.RunAsync(["stop", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task]);
            Assert.True(stop.ExitCode == 0, stop.All + first.Output);
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromMinutes(1)));
            Assert.Contains("Stopped on request while applying the changes staged during the copy", first.Output);
            Assert.DoesNotContain("Applied the changes staged during the copy", first.Output);
            Assert.DoesNotContain("Streaming changes of task", first.Output);
        }
        Assert.Equal("stopped", await StateAsync<string>(task, "phase"));
        Assert.True(await pair.Target.ScalarAsync<long>(pair.TargetDb, $"SELECT count(*) FROM pgshift.staged_changes WHERE task = '{task}'") > 0);
        var applied = await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM queue WHERE v = 1");
        Assert.InRange(applied, 1, 39999);

        // The next run goes on from there: each change once.
        await using var second = new PgShiftBackground(migrateArgs);
        await second.WaitForAsync("Streaming changes of task", TimeSpan.FromMinutes(3));
        Assert.Contains("Applied the changes staged during the copy", second.Output);
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE queue SET v = v + 10 WHERE id % 1000 = 0");
        var cutover = await PgShiftProcess.RunAsync(["cutover", .. Args(task)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + second.Output);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await CopyFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb, ["public.queue"]);
        Assert.Equal(40000L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM queue WHERE v IN (1, 11)"));
        await PgShiftProcess.RunAsync(["cleanup", .. Args(task)]);
    }

    [Fact]
    public async Task Killed_while_staging_during_post_data_while_applying_staged_and_while_streaming_loses_and_repeats_nothing()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, StreamFixture.Schema + BigTables);
        const string task = "capkill";
        using var stopWriting = new CancellationTokenSource();
        Task<HashSet<string>>? writer = null;
        string[] migrateArgs = ["migrate", "--verbose", .. CopyForAWhile, .. Args(task)];

        // 1. kill -9 during the copy, once changes are staged and a table copied and indexed is receiving them.
        await using (var first = new PgShiftBackground(migrateArgs))
        {
            await first.WaitForAsync("Staging the changes", TimeSpan.FromMinutes(2));
            writer = Task.Run(() => WriteUntilAsync(task, stopWriting.Token));
            await first.WaitForAsync("Copied ", TimeSpan.FromMinutes(2));
            await WaitUntilAsync(async () => await StateAsync<long>(task, "staged_changes") > 0, "changes are staged", first);
            await WaitUntilAsync(() => SyncRaisedAsync(task), "staged changes are applied during the copy", first);
            Assert.Equal("copy", await StateAsync<string>(task, "phase"));
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        // 2. kill -9 during post-data.
        await using (var second = new PgShiftBackground(migrateArgs))
        {
            await WaitUntilAsync(async () => await StateAsync<string>(task, "phase") == "post-data", "the post-data phase", second);
            second.Kill();
            await second.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.True(await StateAsync<long>(task, "staged_changes") > 0, "changes were staged before post-data");

        // 3. kill -9 while the staged changes are applied.
        await using (var third = new PgShiftBackground(migrateArgs))
        {
            await third.WaitForAsync("staged during the copy", TimeSpan.FromMinutes(3));
            third.Kill();
            await third.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.Equal("stream", await StateAsync<string>(task, "phase"));

        // 3b. kill -9 in the middle of the replay, once part of it is committed (its target transactions commit every
        // 2,000 changes here): the staged rows stay, and the next replay goes through them again from the first,
        // skipping the transactions the target holds.
        var appliedBefore = await StateAsync<string>(task, "coalesce(applied_lsn, '0/0')::text");
        await using (var replay = new PgShiftBackground(migrateArgs, new Dictionary<string, string> { ["PGSHIFT_APPLY_GROUP_CHANGES"] = "2000" }))
        {
            await replay.WaitForAsync("staged during the copy", TimeSpan.FromMinutes(3));
            await WaitUntilAsync(async () => await StateAsync<bool>(task, $"coalesce(applied_lsn > '{appliedBefore}'::pg_lsn, false)"),
                "part of the staged changes is applied", replay);
            replay.Kill();
            await replay.WaitForExitAsync(TimeSpan.FromSeconds(30));
            Assert.DoesNotContain("Applied the changes staged during the copy", replay.Output);
        }
        Assert.True(await pair.Target.ScalarAsync<long>(pair.TargetDb, $"SELECT count(*) FROM pgshift.staged_changes WHERE task = '{task}'") > 0,
            "killed with part of the staged changes applied and the staged rows still there");

        // 4. kill -9 while streaming, once everything staged is applied and live changes are.
        await using (var fourth = new PgShiftBackground(migrateArgs))
        {
            await fourth.WaitForAsync("Streaming changes of task", TimeSpan.FromMinutes(3));
            Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, $"SELECT count(*) FROM pgshift.staged_changes WHERE task = '{task}'"));
            var applied = await StateAsync<string>(task, "applied_lsn::text");
            await WaitUntilAsync(async () => await pair.Target.ScalarAsync<bool>(pair.TargetDb,
                $"SELECT applied_lsn > '{applied}'::pg_lsn FROM pgshift.tasks WHERE name = '{task}'"), "live changes are applied", fourth);
            fourth.Kill();
            await fourth.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        await using var last = new PgShiftBackground(migrateArgs);
        await last.WaitForAsync("Streaming changes of task", TimeSpan.FromMinutes(3));
        await stopWriting.CancelAsync();
        var phases = await writer;
        Assert.Contains("copy", phases);
        Assert.Contains("post-data", phases);
        var cutover = await PgShiftProcess.RunAsync(["cutover", .. Args(task)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + last.Output);
        Assert.Equal(0, await last.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await CopyFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb, Tables);
        await PgShiftProcess.RunAsync(["cleanup", .. Args(task)]);
    }
}

public sealed class CaptureDuringCopy15To17Tests(Pg15To17 pair) : CaptureDuringCopyTests(pair), IClassFixture<Pg15To17>;

public sealed class CaptureDuringCopy12To17Tests(Pg12To17 pair) : CaptureDuringCopyTests(pair), IClassFixture<Pg12To17>;
