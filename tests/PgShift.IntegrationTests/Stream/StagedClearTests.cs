using NpgsqlTypes;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Progress;
using PgShift.State;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// The staged rows of a task go at once when its replay is done: with TRUNCATE when no other task has rows staged
/// in the same target database, else with a DELETE of its own rows, which leaves the other task's rows alone.
/// </summary>
public sealed class StagedClearTests : FreshDatabases
{
    private static async Task StageAsync(Npgsql.NpgsqlConnection target, string task, int transactions)
    {
        await TaskState.SetPhaseAsync(target, task, "source", TaskPhase.Copy, CancellationToken.None);
        await using var chunk = await StagedChanges.BeginChunkAsync(target, task, CancellationToken.None);
        long seq = 0;
        for (var i = 1; i <= transactions; i++)
        {
            var lsn = new NpgsqlLogSequenceNumber((ulong)(i * 100));
            await chunk.WriteAsync(new StagedRow(++seq, StagedKind.Begin, lsn, null, DateTime.UtcNow, (uint)i, null), CancellationToken.None);
            await chunk.WriteAsync(new StagedRow(++seq, StagedKind.Event, lsn, null, null, 0, [1, 2, 3]), CancellationToken.None);
            await chunk.WriteAsync(new StagedRow(++seq, StagedKind.Commit, lsn, new NpgsqlLogSequenceNumber((ulong)(i * 100 + 8)), DateTime.UtcNow, 0, null), CancellationToken.None);
        }
        await chunk.CommitAsync((new NpgsqlLogSequenceNumber((ulong)(transactions * 100 + 8)), seq), CancellationToken.None);
    }

    [Fact]
    public async Task A_task_alone_is_cleared_with_truncate_and_beside_another_only_its_rows_go()
    {
        var db = await CreateAsync(TestServer.Pg17, "stclear");
        await using var target = await TestServer.Pg17.OpenAsync(db);
        await StageAsync(target, "one", 3);
        await StageAsync(target, "two", 2);

        // Another task has rows staged: only this task's rows go, and its count of staged changes is 0.
        await StagedChanges.ClearAsync(target, "one", CancellationToken.None);
        Assert.Equal(0L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT count(*) FROM pgshift.staged_changes WHERE task = 'one'"));
        Assert.Equal(6L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT count(*) FROM pgshift.staged_changes WHERE task = 'two'"));
        Assert.Equal(0L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT staged_changes FROM pgshift.tasks WHERE name = 'one'"));
        Assert.Equal(2L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT staged_changes FROM pgshift.tasks WHERE name = 'two'"));
        // The stage mark stays: where staging stopped.
        Assert.Equal(9L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT staged_seq FROM pgshift.tasks WHERE name = 'one'"));
        var filenode = await TestServer.Pg17.ScalarAsync<long>(db, "SELECT pg_relation_filenode('pgshift.staged_changes')::bigint");

        // The last task with rows staged: TRUNCATE (a new file for the table), nothing left.
        await StagedChanges.ClearAsync(target, "two", CancellationToken.None);
        Assert.Equal(0L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT count(*) FROM pgshift.staged_changes"));
        Assert.Equal(0L, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT staged_changes FROM pgshift.tasks WHERE name = 'two'"));
        Assert.NotEqual(filenode, await TestServer.Pg17.ScalarAsync<long>(db, "SELECT pg_relation_filenode('pgshift.staged_changes')::bigint"));
    }
}
