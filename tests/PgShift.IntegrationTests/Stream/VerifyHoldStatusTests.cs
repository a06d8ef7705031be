using PgShift.IntegrationTests.Infrastructure;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>While a verify holds the applier at a source position, neither the running task nor 'pgshift status' says "not delayed".</summary>
public sealed class VerifyHoldStatusTests : FreshDatabases
{
    [Fact]
    public async Task A_stream_held_by_a_verify_is_never_reported_as_not_delayed()
    {
        var source = TestServer.Pg15;
        var target = TestServer.Pg17;
        var src = await CreateAsync(source, "hosrc");
        var tgt = await CreateAsync(target, "hotgt");
        await source.ExecuteAsync(src, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');");
        var task = "hold_" + Run;
        using var cancel = new CancellationTokenSource();
        var migration = new MigrationTask(new ListLogger());
        StreamSnapshot? live = null;
        migration.ProgressChanged += p => live = p.Stream;
        var running = await StreamingRun.StartAsync(migration, StreamingRun.Options(source, src, target, tgt, task), cancel.Token);
        await WaitAsync(() => Task.FromResult(live?.NotDelayed == true), "the stream never caught up");

        // Hold the applier where a verify would, then keep writing: the held transactions wait.
        var hold = await source.ScalarAsync<string>(src, "SELECT pg_current_wal_lsn()::text");
        await target.ExecuteAsync(tgt, $"UPDATE pgshift.tasks SET verify_hold_lsn = '{hold}', verify_held_at = NULL WHERE name = '{task}'");
        for (var i = 2; i < 40; i++)
        {
            await source.ExecuteAsync(src, $"INSERT INTO t VALUES ({i}, 'held')");
            await Task.Delay(50);
        }
        await WaitAsync(async () => (await StatusAsync(target, tgt, task)).PausedAt is not null, "status never showed the hold");
        // The running task publishes twice a second what its monitor sees once a second.
        await WaitAsync(() => Task.FromResult(live?.State == StreamState.Paused), "the running task never showed the hold");
        for (var i = 0; i < 10; i++)
        {
            var status = await StatusAsync(target, tgt, task);
            Assert.False(status.NotDelayed, $"status said not delayed while held ({status})");
            Assert.False(live!.NotDelayed, "the running task said not delayed while held");
            Assert.Equal(StreamState.Paused, live.State);
            await Task.Delay(200);
        }
        Assert.True(await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM t") < 39);

        // Released: the held transactions apply and the stream catches up.
        await target.ExecuteAsync(tgt, $"UPDATE pgshift.tasks SET verify_hold_lsn = NULL WHERE name = '{task}'");
        await WaitAsync(async () => (await StatusAsync(target, tgt, task)).NotDelayed, "the stream never caught up after the hold");
        Assert.Equal(39L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM t"));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    private static async Task<StreamStatus> StatusAsync(TestServer target, string db, string task)
    {
        await using var conn = await target.OpenAsync(db);
        var report = await TaskStatusReport.LoadAsync(conn, task, CancellationToken.None);
        return report?.Stream ?? throw new InvalidOperationException("no stream status");
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
    }
}
