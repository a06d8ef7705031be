using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// Large transactions that the source streams while they run (PostgreSQL 14+; the task's walsender is given a
/// logical_decoding_work_mem of 64kB so that a few hundred rows suffice): committed ones apply whole and in commit
/// order, interleaved with each other and with small ones; a rolled-back one leaves nothing; a subtransaction rolled
/// back to its savepoint leaves nothing of its own; and a transaction bigger than the spool limit makes the stream go
/// on without streaming, losing nothing.
/// </summary>
public abstract class StreamSpoolTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private static readonly string[] Tables = ["big", "other"];

    private async Task<(string Src, string Tgt, MigrationTask Migration, Task<MigrationResult> Running, string Task, ListLogger Log)> StartAsync(ApplyOptions apply,
        CancellationToken ct = default, string rows = "")
    {
        var src = await CreateAsync(source, "spsrc");
        var tgt = await CreateAsync(target, "sptgt");
        await source.ExecuteAsync(src, """
            CREATE TABLE big (id int PRIMARY KEY, who text, v text);
            CREATE TABLE other (id int PRIMARY KEY, n int);
            INSERT INTO other SELECT g, 0 FROM generate_series(1, 10) g;
            """ + rows);
        var task = "spool_" + Run;
        var defaults = StreamingRun.Options(source, src, target, tgt, task);
        var log = new ListLogger();
        var migration = new MigrationTask(log);
        var running = await StreamingRun.StartAsync(migration, new TaskSettings
        {
            Source = defaults.Source, Target = defaults.Target, TaskName = task, Jobs = defaults.Jobs, RetryWindow = defaults.RetryWindow, Apply = apply,
        }, ct);
        return (src, tgt, migration, running, task, log);
    }

    private async Task CutOverAndCompareAsync(string src, string tgt, string task, Task<MigrationResult> running)
    {
        // A cutover request lives as long as the session that made it (a waiting 'pgshift cutover' holds it open).
        await using var cutoverSession = await target.OpenAsync(tgt);
        await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
        Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);
        await CopyFixture.AssertSameAsync(source, src, target, tgt, Tables);
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task Streamed_transactions_apply_at_their_commit_in_order_and_aborts_leave_nothing()
    {
        var (src, tgt, migration, running, task, _) = await StartAsync(new ApplyOptions { DecodingWorkMem = "64kB" });

        // Rolled back whole, and rolled back to savepoints (nested), inside streamed transactions.
        await source.ExecuteAsync(src, """
            BEGIN;
            INSERT INTO big SELECT g, 'rolled back', repeat('x', 200) FROM generate_series(1, 3000) g;
            ROLLBACK;
            BEGIN;
            INSERT INTO big SELECT g, 'kept', repeat('k', 200) FROM generate_series(1, 2000) g;
            SAVEPOINT a;
            INSERT INTO big SELECT g, 'in a', repeat('a', 200) FROM generate_series(2001, 4000) g;
            SAVEPOINT b;
            UPDATE big SET v = 'in b' WHERE id <= 1000;
            ROLLBACK TO SAVEPOINT a;
            INSERT INTO big SELECT g, 'after a', repeat('c', 200) FROM generate_series(4001, 5000) g;
            SAVEPOINT c;
            DELETE FROM big WHERE id % 2 = 0;
            RELEASE SAVEPOINT c;
            UPDATE other SET n = n + 1;
            COMMIT;
            """);

        // Two large transactions at once, committed in the opposite order to their start, with small ones between.
        await using var one = await source.OpenAsync(src);
        await using var two = await source.OpenAsync(src);
        async Task Exec(NpgsqlConnection c, string sql)
        {
            await using var cmd = new NpgsqlCommand(sql, c);
            await cmd.ExecuteNonQueryAsync();
        }
        await Exec(one, "BEGIN");
        await Exec(two, "BEGIN");
        for (var round = 0; round < 5; round++)
        {
            await Exec(one, $"INSERT INTO big SELECT g, 'one', repeat('1', 300) FROM generate_series({10000 + round * 1000}, {10999 + round * 1000}) g");
            await Exec(two, $"INSERT INTO big SELECT g, 'two', repeat('2', 300) FROM generate_series({20000 + round * 1000}, {20999 + round * 1000}) g");
            await source.ExecuteAsync(src, $"UPDATE other SET n = n * 2 + {round} WHERE id = {round + 1}");
        }
        // Both touch the same hot row last: whichever commits later wins on the source, and must on the target.
        await Exec(two, "UPDATE other SET n = -2 WHERE id = 10");
        await Exec(two, "COMMIT");
        await Exec(one, "UPDATE other SET n = -1 WHERE id = 10");
        await Exec(one, "UPDATE big SET v = 'one updated ' || id WHERE id % 3 = 0");
        await Exec(one, "COMMIT");

        await CutOverAndCompareAsync(src, tgt, task, running);
        Assert.True(migration.Stream.Progress.SpooledTransactions >= 3, $"{migration.Stream.Progress.SpooledTransactions} transactions were spooled");
        Assert.Equal(-1, await target.ScalarAsync<int>(tgt, "SELECT n FROM other WHERE id = 10"));
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big WHERE who IN ('rolled back', 'in a') OR v = 'in b'"));
    }

    [Fact]
    public async Task A_stream_cut_off_while_it_spools_or_applies_a_large_transaction_resumes_it_whole()
    {
        using var cancel = new CancellationTokenSource();
        var apply = new ApplyOptions { DecodingWorkMem = "64kB" };
        var (src, tgt, migration, running, task, _) = await StartAsync(apply, cancel.Token);
        var writes = Task.Run(async () =>
        {
            for (var i = 0; i < 4; i++)
            {
                await source.ExecuteAsync(src, $"""
                    BEGIN;
                    INSERT INTO big SELECT g, 'batch {i}', repeat('b', 300) FROM generate_series({i * 20000 + 1}, {i * 20000 + 20000}) g;
                    UPDATE big SET v = 'touched' WHERE id % 10 = {i};
                    UPDATE other SET n = n + 1;
                    COMMIT;
                    """);
            }
        });
        // Cut off once the first large transaction is being applied (or spooled), then started again.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgshift apply' AND state = 'active'") == 0
               && !writes.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await writes;

        var defaults = StreamingRun.Options(source, src, target, tgt, task);
        var resumed = await new MigrationTask(new ListLogger()).RunAsync(new TaskSettings
        {
            Source = defaults.Source, Target = defaults.Target, TaskName = task, Jobs = defaults.Jobs, RetryWindow = defaults.RetryWindow, Apply = apply,
        }, cutover: true, CancellationToken.None);
        Assert.True(resumed.Finished);
        await CopyFixture.AssertSameAsync(source, src, target, tgt, Tables);
        Assert.Equal(4, await target.ScalarAsync<int>(tgt, "SELECT min(n) FROM other"));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task A_savepoint_rolled_back_after_a_reconnect_inside_its_streamed_transaction_leaves_nothing()
    {
        // The slot's confirmed position lies inside a large open transaction when the stream starts again (a consumer
        // acknowledges keepalives while it waits; here the slot is advanced to the same place while PgShift is stopped).
        // The server then decodes the transaction again: what lies before that position is spilled to disk, not
        // streamed, and PostgreSQL 15 and 17 stream the spilled rows of a savepoint once the stream may go on, but
        // never say that the savepoint was rolled back.
        using var cancel = new CancellationTokenSource();
        var apply = new ApplyOptions { DecodingWorkMem = "64kB" };
        var (src, tgt, _, running, task, _) = await StartAsync(apply, cancel.Token, "INSERT INTO big SELECT g, 'initial', md5(g::text) FROM generate_series(1, 50000) g;");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        await using var open = await source.OpenAsync(src);
        async Task Exec(string sql)
        {
            await using var cmd = new NpgsqlCommand(sql, open);
            await cmd.ExecuteNonQueryAsync();
        }
        await Exec("BEGIN; UPDATE big SET who = 'updated' WHERE id <= 30000; SAVEPOINT a; DELETE FROM big WHERE id <= 10000");
        await source.ExecuteAsync(src, $"SELECT pg_replication_slot_advance('{TaskName.SlotName(task)}', pg_current_wal_lsn())");
        await Exec("DELETE FROM big WHERE id > 10000 AND id <= 15000; ROLLBACK TO SAVEPOINT a; INSERT INTO big SELECT g, 'after a', 'c' FROM generate_series(100001, 101000) g; COMMIT");

        var defaults = StreamingRun.Options(source, src, target, tgt, task);
        var log = new ListLogger();
        var resumed = await new MigrationTask(log).RunAsync(new TaskSettings
        {
            Source = defaults.Source, Target = defaults.Target, TaskName = task, Jobs = defaults.Jobs, RetryWindow = defaults.RetryWindow, Apply = apply,
        }, cutover: true, CancellationToken.None);
        Assert.True(resumed.Finished);
        Assert.Equal(51000L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big"));
        await CopyFixture.AssertSameAsync(source, src, target, tgt, Tables);
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task A_savepoint_rolled_back_without_the_source_saying_so_leaves_nothing()
    {
        // PostgreSQL can stream a subtransaction's changes and never send its STREAM ABORT (seen with 15 and 17 when
        // decoding restarts behind the slot's confirmed position inside an open transaction: the rows spilled before
        // it are streamed from disk, and the subtransaction is not marked as streamed). Here the stream loses every
        // subtransaction abort; the source's commit log still tells which savepoints were rolled back.
        var (src, tgt, _, running, task, log) = await StartAsync(new ApplyOptions { DecodingWorkMem = "64kB", LoseSubtransactionAborts = true });
        await source.ExecuteAsync(src, """
            BEGIN;
            INSERT INTO big SELECT g, 'kept', repeat('k', 200) FROM generate_series(1, 2000) g;
            SAVEPOINT a;
            DELETE FROM big WHERE id <= 1500;
            INSERT INTO big SELECT g, 'in a', repeat('a', 200) FROM generate_series(2001, 4000) g;
            SAVEPOINT b;
            UPDATE big SET v = 'in b' WHERE id > 1500;
            RELEASE SAVEPOINT b;
            ROLLBACK TO SAVEPOINT a;
            INSERT INTO big SELECT g, 'after a', repeat('c', 200) FROM generate_series(4001, 5000) g;
            SAVEPOINT c;
            UPDATE big SET who = 'in c' WHERE id % 2 = 0;
            RELEASE SAVEPOINT c;
            SAVEPOINT d;
            DELETE FROM big WHERE id > 4500;
            ROLLBACK TO SAVEPOINT d;
            UPDATE other SET n = n + 1;
            COMMIT;
            """);
        await CutOverAndCompareAsync(src, tgt, task, running);
        Assert.Equal(3000L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big"));
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big WHERE who = 'in a' OR v = 'in b'"));
        Assert.Equal(1500L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big WHERE who = 'in c'"));
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("rolled-back subtransaction", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_streamed_transaction_replayed_change_by_change_keeps_its_savepoint_rollbacks()
    {
        // A unique swap that no set statement can apply makes the applier replay the streamed transaction one change
        // at a time (a new session, the transaction streamed and spooled again): the rolled-back savepoint stays out.
        var (src, tgt, _, running, task, log) = await StartAsync(new ApplyOptions { DecodingWorkMem = "64kB", LoseSubtransactionAborts = true }, default,
            "CREATE TABLE uq (id int PRIMARY KEY, code text UNIQUE); INSERT INTO uq VALUES (1, 'a'), (2, 'b'), (3, 'c');");
        await source.ExecuteAsync(src, """
            BEGIN;
            INSERT INTO big SELECT g, 'kept', repeat('k', 200) FROM generate_series(1, 3000) g;
            SAVEPOINT a;
            DELETE FROM big WHERE id <= 2000;
            UPDATE uq SET code = 'z' WHERE id = 3;
            ROLLBACK TO SAVEPOINT a;
            UPDATE uq SET code = 'tmp' WHERE id = 1;
            UPDATE uq SET code = 'a' WHERE id = 2;
            UPDATE uq SET code = 'b' WHERE id = 1;
            UPDATE big SET v = 'after' WHERE id % 5 = 0;
            COMMIT;
            """);
        await CutOverAndCompareAsync(src, tgt, task, running);
        await CopyFixture.AssertSameAsync(source, src, target, tgt, ["uq"]);
        Assert.Equal(3000L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM big"));
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("replaying them one by one", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Spool_files_are_private_and_removed_and_those_of_dead_processes_go_at_the_next_start()
    {
        var where = Directory.CreateTempSubdirectory("pgshift-spool-test").FullName;
        try
        {
            // What a killed process left: a directory named after its task and a process ID that no longer runs.
            var root = StreamRunner.SpoolRoot(where);
            var stale = Directory.CreateDirectory(Path.Combine(root, "another_task-2147483000")).FullName;
            await File.WriteAllTextAsync(Path.Combine(stale, "1234"), "rows of a dead process");

            var (src, tgt, _, running, task, _) = await StartAsync(new ApplyOptions { DecodingWorkMem = "64kB", SpoolDirectory = where });
            var gone = DateTime.UtcNow.AddSeconds(30);
            while (Directory.Exists(stale))
            {
                Assert.True(DateTime.UtcNow < gone, "the spool of a dead process was not removed");
                await Task.Delay(50);
            }

            await using var open = await source.OpenAsync(src);
            await using (var cmd = new NpgsqlCommand("BEGIN; INSERT INTO big SELECT g, 'open', repeat('o', 300) FROM generate_series(1, 5000) g", open))
            {
                await cmd.ExecuteNonQueryAsync();
            }
            var mine = Path.Combine(root, $"{task}-{Environment.ProcessId}");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Directory.Exists(mine) || Directory.GetFiles(mine).Length == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the open transaction was never spooled");
                await Task.Delay(50);
            }
            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Assert.Equal(Private, File.GetUnixFileMode(root));
            Assert.Equal(Private, File.GetUnixFileMode(mine));
            Assert.All(Directory.GetFiles(mine), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));

            await using (var cmd = new NpgsqlCommand("COMMIT", open))
            {
                await cmd.ExecuteNonQueryAsync();
            }
            await CutOverAndCompareAsync(src, tgt, task, running);
            Assert.False(Directory.Exists(mine) && Directory.EnumerateFileSystemEntries(mine).Any(), "spool files remained after the task stopped");
        }
        finally
        {
            Directory.Delete(where, recursive: true);
        }
    }

    [Fact]
    public async Task A_transaction_beyond_the_spool_limit_makes_the_stream_go_on_without_streaming()
    {
        var (src, tgt, migration, running, task, log) = await StartAsync(new ApplyOptions { DecodingWorkMem = "64kB", SpoolLimitBytes = 200_000 });
        await source.ExecuteAsync(src, """
            BEGIN;
            INSERT INTO big SELECT g, 'large', repeat('L', 500) FROM generate_series(1, 5000) g;
            UPDATE other SET n = 7;
            COMMIT;
            INSERT INTO big VALUES (100000, 'small after', 's');
            """);
        await CutOverAndCompareAsync(src, tgt, task, running);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("outgrew the spool limit", StringComparison.Ordinal));
        Assert.Equal(0, migration.Stream.Progress.SpooledTransactions);
    }
}

public sealed class StreamSpoolTests_15_to_17() : StreamSpoolTestsBase(TestServer.Pg15, TestServer.Pg17);

public sealed class StreamSpoolTests_17_to_17() : StreamSpoolTestsBase(TestServer.Pg17, TestServer.Pg17);
