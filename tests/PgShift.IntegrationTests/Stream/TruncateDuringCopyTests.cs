using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// TRUNCATE is not MVCC-safe: a table truncated on the source after the copy's snapshot was taken reads as empty under
/// that snapshot, and the changes committed between the snapshot and the TRUNCATE (an UPDATE of a row that was there)
/// would find no row on the target. Such a table is copied again from a new snapshot taken after the TRUNCATE, with a
/// sync LSN of its own, and the stream goes on exactly.
/// </summary>
public abstract class TruncateDuringCopyTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    [Fact]
    public async Task A_table_truncated_after_the_snapshot_is_copied_again_from_a_new_one()
    {
        var src = await CreateAsync(source, "trsrc");
        var tgt = await CreateAsync(target, "trtgt");
        await source.ExecuteAsync(src, """
            CREATE TABLE scratch (id int PRIMARY KEY, v text);
            INSERT INTO scratch SELECT g, 'before' FROM generate_series(1, 500) g;
            CREATE TABLE steady (id int PRIMARY KEY, v text);
            INSERT INTO steady SELECT g, 'steady' FROM generate_series(1, 500) g;
            """);
        var task = "trunc_" + Run;
        var log = new ListLogger();
        var migration = new MigrationTask(log);
        var rounds = 0;
        migration.Copier.SnapshotTaken += _ =>
        {
            // Before any worker reads: an update of a row the snapshot holds, then a TRUNCATE and new rows, each committed.
            if (Interlocked.Increment(ref rounds) == 1)
            {
                source.ExecuteAsync(src, "UPDATE scratch SET v = 'updated after the snapshot' WHERE id = 36; UPDATE steady SET v = 'changed' WHERE id = 7;")
                    .GetAwaiter().GetResult();
                source.ExecuteAsync(src, "TRUNCATE scratch; INSERT INTO scratch SELECT g, 'after the truncate' FROM generate_series(1, 300) g;")
                    .GetAwaiter().GetResult();
            }
        };
        var running = await StreamingRun.StartAsync(migration, StreamingRun.Options(source, src, target, tgt, task));
        await source.ExecuteAsync(src, "UPDATE scratch SET v = 'streamed' WHERE id = 36; DELETE FROM scratch WHERE id > 290; UPDATE steady SET v = 'streamed' WHERE id = 8;");

        await using (var session = await target.OpenAsync(tgt))
        {
            await TaskRequests.RequestCutoverAsync(session, task, CancellationToken.None);
            Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);
        }
        await CopyFixture.AssertSameAsync(source, src, target, tgt, ["scratch", "steady"]);
        Assert.Equal(290L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM scratch"));
        Assert.True(rounds >= 2, "scratch was not copied again from a new snapshot");
        Assert.Contains(log.Entries, e => e.Message.Contains("\"public\".\"scratch\" truncated or rewritten on the source after the snapshot", StringComparison.Ordinal));
        // The table copied again has a sync LSN past the task's first snapshot; the other keeps the slot's.
        Assert.True(await target.ScalarAsync<bool>(tgt, $"""
            SELECT (SELECT sync_lsn FROM pgshift.copy_tables WHERE task = '{task}' AND source_table = '"public"."scratch"')
                 > (SELECT sync_lsn FROM pgshift.copy_tables WHERE task = '{task}' AND source_table = '"public"."steady"')
            """));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}

public sealed class TruncateDuringCopyTests_12_to_17() : TruncateDuringCopyTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class TruncateDuringCopyTests_15_to_17() : TruncateDuringCopyTestsBase(TestServer.Pg15, TestServer.Pg17);
