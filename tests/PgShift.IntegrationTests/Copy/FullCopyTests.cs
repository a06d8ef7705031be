using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using PgShift.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Schema;
using PgShift.Settings;

namespace PgShift.IntegrationTests.Copy;

public abstract class FullCopyTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private static void AssertSame(Dictionary<string, string> expected, Dictionary<string, string> actual)
    {
        var differing = expected.Where(e => actual.GetValueOrDefault(e.Key) != e.Value).Select(e => $"{e.Key}: expected {e.Value}, got {actual.GetValueOrDefault(e.Key)}").ToList();
        Assert.True(differing.Count == 0, "tables differ:\n" + string.Join("\n", differing));
    }

    private string Task_copy_all => "copy_all_" + Run;
    private string Task_copy_snap => "copy_snap_" + Run;
    private string Task_copy_resume => "copy_resume_" + Run;

    private async Task<(string Src, string Tgt)> FreshAsync()
    {
        var src = await CreateAsync(source, "csrc");
        var tgt = await CreateAsync(target, "ctgt");
        await source.ExecuteAsync(src, CopyFixture.Sql(source.Major));
        return (src, tgt);
    }

    private FullCopyOptions CopyOptions(string src, string tgt, string task, bool incremental, int jobs = 2) => new()
    {
        Source = source.Spec(src),
        Target = target.Spec(tgt),
        TaskName = task,
        Jobs = jobs,
        Incremental = incremental,
        // Small enough that split_me (and the wide tables) are copied in several ranges.
        SplitThresholdBytes = 512 * 1024,
        RetryWindow = TimeSpan.FromSeconds(10),
    };

    private SchemaMigrationOptions SchemaOptions(string src, string tgt, string task) => new() { Source = source.Spec(src), Target = target.Spec(tgt), TaskName = task };

    [Fact]
    public async Task Every_row_of_every_type_arrives_exactly_and_post_data_follows()
    {
        var (src, tgt) = await FreshAsync();
        var schema = new SchemaMigrator(NullLogger.Instance);
        await schema.CreatePreDataAsync(SchemaOptions(src, tgt, Task_copy_all), CancellationToken.None);
        var copier = new FullCopier(NullLogger.Instance);
        var result = await copier.RunAsync(CopyOptions(src, tgt, Task_copy_all, incremental: false), CancellationToken.None);
        await schema.CreatePostDataAsync(SchemaOptions(src, tgt, Task_copy_all), CancellationToken.None);

        Assert.Equal(CopyFixture.Tables.Length, result.Tables);
        AssertSame(await CopyFixture.ChecksumsAsync(source, src), await CopyFixture.ChecksumsAsync(target, tgt));
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT count(*) FROM parted"), result.Rows - await source.ScalarAsync<long>(src,
            "SELECT (SELECT count(*) FROM \"All Types\") + (SELECT count(*) FROM split_me) + (SELECT count(*) FROM nokey) + (SELECT count(*) FROM \"Odd \"\"Schema\"\"\".\"select\") + (SELECT count(*) FROM wide)"));
        // The identity sequence continues where the source's stands; generated columns were computed by the target.
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT last_value FROM \"All Types_id_seq\""), await target.ScalarAsync<long>(tgt, "SELECT last_value FROM \"All Types_id_seq\""));
        Assert.Equal(800, await target.ScalarAsync<int>(tgt, "SELECT g FROM \"All Types\" WHERE i4 = 400"));
        // The split table really was copied in ranges, and all of them are in.
        Assert.Equal("done", await target.ScalarAsync<string>(tgt, "SELECT status FROM pgshift.copy_tables WHERE source_table = '\"public\".\"split_me\"'"));
        Assert.Equal(20000L, await target.ScalarAsync<long>(tgt, "SELECT rows_copied FROM pgshift.copy_tables WHERE source_table = '\"public\".\"split_me\"'"));
        Assert.True(copier.Progress.Tables.Single(t => t.Table.Name == "split_me").EstimatedBytes > 512 * 1024);
        Assert.Equal(0L, await source.ScalarAsync<long>(src, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
    }

    [Fact]
    public async Task Writes_after_the_snapshot_are_absent_from_the_copy_and_the_slot_marks_the_point()
    {
        var (src, tgt) = await FreshAsync();
        await new SchemaMigrator(NullLogger.Instance).CreatePreDataAsync(SchemaOptions(src, tgt, Task_copy_snap), CancellationToken.None);
        var before = await CopyFixture.ChecksumsAsync(source, src);
        var copier = new FullCopier(NullLogger.Instance);
        copier.SnapshotTaken += _ =>
        {
            source.ExecuteAsync(src, """
            INSERT INTO split_me SELECT g, 'late', g FROM generate_series(20001, 20100) g;
            UPDATE split_me SET v = 'changed' WHERE id % 100 = 0;
            DELETE FROM split_me WHERE id % 333 = 0;
            INSERT INTO parted VALUES (9999, 'x', '2021-06-01', 'late'), (9998, 'y', '1990-01-01', 'late');
            DELETE FROM nokey WHERE v IS NULL;
            UPDATE "All Types" SET t = 'changed after snapshot' WHERE id = 2;
            DELETE FROM wide WHERE id > 30;
            """).GetAwaiter().GetResult();
        };
        var result = await copier.RunAsync(CopyOptions(src, tgt, Task_copy_snap, incremental: true), CancellationToken.None);

        var after = await CopyFixture.ChecksumsAsync(source, src);
        Assert.NotEqual(before, after);
        AssertSame(before, await CopyFixture.ChecksumsAsync(target, tgt));
        // The copy's position is the slot's consistent point, recorded in the task state, and each table's sync LSN.
        var slotLsn = await source.ScalarAsync<NpgsqlLogSequenceNumber>(src, $"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgshift_{Task_copy_snap}'");
        Assert.Equal(slotLsn, result.ConsistentLsn);
        Assert.Equal(slotLsn, await target.ScalarAsync<NpgsqlLogSequenceNumber>(tgt, $"SELECT consistent_lsn FROM pgshift.tasks WHERE name = '{Task_copy_snap}'"));
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, $"SELECT count(*) FROM pgshift.copy_tables WHERE task = '{Task_copy_snap}' AND sync_lsn <> '{slotLsn}'"));
        // The publication was created for the leaf tables (sources before 13 cannot publish a partitioned one), and the
        // capture of schema changes' own table.
        Assert.Equal((long)CopyFixture.Tables.Length, await source.ScalarAsync<long>(src, $"SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pgshift_{Task_copy_snap}' AND schemaname <> 'pgshift'"));
    }

    [Fact]
    public async Task A_copy_cancelled_midway_resumes_with_every_row_exactly_once()
    {
        var (src, tgt) = await FreshAsync();
        await new SchemaMigrator(NullLogger.Instance).CreatePreDataAsync(SchemaOptions(src, tgt, Task_copy_resume), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var first = new FullCopier(NullLogger.Instance);
        var copied = 0;
        first.TableCopied += _ =>
        {
            if (Interlocked.Increment(ref copied) == 2)
            {
                cancel.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.RunAsync(CopyOptions(src, tgt, Task_copy_resume, incremental: true, jobs: 1), cancel.Token));
        var doneAfterKill = await target.ScalarAsync<long>(tgt, $"SELECT count(*) FROM pgshift.copy_tables WHERE task = '{Task_copy_resume}' AND status = 'done'");
        Assert.InRange(doneAfterKill, 2, CopyFixture.Tables.Length - 1);

        var second = await new FullCopier(NullLogger.Instance).RunAsync(CopyOptions(src, tgt, Task_copy_resume, incremental: true), CancellationToken.None);
        Assert.Equal(doneAfterKill, second.TablesSkipped);
        Assert.Equal(CopyFixture.Tables.Length - doneAfterKill, second.Tables);
        AssertSame(await CopyFixture.ChecksumsAsync(source, src), await CopyFixture.ChecksumsAsync(target, tgt));
        // Tables copied again have a later sync LSN (a temporary slot's point), the others keep the task slot's.
        var consistent = await target.ScalarAsync<NpgsqlLogSequenceNumber>(tgt, $"SELECT consistent_lsn FROM pgshift.tasks WHERE name = '{Task_copy_resume}'");
        Assert.Equal(doneAfterKill, await target.ScalarAsync<long>(tgt, $"SELECT count(*) FROM pgshift.copy_tables WHERE task = '{Task_copy_resume}' AND sync_lsn = '{consistent}'"));
        Assert.Equal(CopyFixture.Tables.Length - doneAfterKill, await target.ScalarAsync<long>(tgt, $"SELECT count(*) FROM pgshift.copy_tables WHERE task = '{Task_copy_resume}' AND sync_lsn > '{consistent}'"));
        // The temporary slot went away with its connection; only the task's slot remains.
        Assert.Equal($"pgshift_{Task_copy_resume}", await source.ScalarAsync<string>(src, "SELECT string_agg(slot_name, ',') FROM pg_replication_slots WHERE database = current_database()"));
    }
}

public sealed class FullCopyTests_12_to_17() : FullCopyTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class FullCopyTests_15_to_17() : FullCopyTestsBase(TestServer.Pg15, TestServer.Pg17);
