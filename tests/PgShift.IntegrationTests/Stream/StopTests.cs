using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// 'pgshift stop' in the middle of the full copy: the copy is cancelled, the task reads "stopped", and a later
/// 'pgshift migrate' copies what was cut short again and streams what changed meanwhile, losing and repeating nothing.
/// </summary>
public sealed class StopTests : FreshDatabases
{
    private static readonly string[] Tables = ["s1", "s2", "s3", "s4", "s5", "s6"];

    [Fact]
    public async Task A_stop_during_the_copy_cancels_it_and_the_task_resumes_to_the_same_data()
    {
        var source = TestServer.Pg15;
        var target = TestServer.Pg17;
        var src = await CreateAsync(source, "stsrc");
        var tgt = await CreateAsync(target, "sttgt");
        await source.ExecuteAsync(src, string.Concat(Tables.Select(t =>
            $"CREATE TABLE {t} (id int PRIMARY KEY, v text); INSERT INTO {t} SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g;")));
        var task = "stop_" + Run;
        var options = StreamingRun.Options(source, src, target, tgt, task);

        var log = new ListLogger();
        var migration = new MigrationTask(log);
        var phases = new List<TaskPhase>();
        migration.ProgressChanged += p =>
        {
            if (p.Phase is { } phase && (phases.Count == 0 || phases[^1] != phase))
            {
                phases.Add(phase);
            }
        };
        var requested = 0;
        migration.Copier.TableCopied += _ =>
        {
            // A table is copied: stop the task (as 'pgshift stop' does) and hold the workers that finish a table until
            // the running task has seen the request, so that most tables are still to copy, or copying, when it does.
            if (Interlocked.Exchange(ref requested, 1) == 0)
            {
                using var t = target.OpenAsync(tgt).GetAwaiter().GetResult();
                TaskRequests.RequestStopAsync(t, task, CancellationToken.None).GetAwaiter().GetResult();
            }
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!log.Entries.Any(e => e.Message.StartsWith("Stop requested", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        };
        var stopped = await migration.RunAsync(options, cutover: false, CancellationToken.None);

        Assert.True(stopped.Stopped);
        Assert.False(stopped.Finished);
        Assert.DoesNotContain(TaskPhase.Stream, phases);
        Assert.Equal("stopped", await target.ScalarAsync<string>(tgt, $"SELECT phase FROM pgshift.tasks WHERE name = '{task}'"));
        Assert.False(await target.ScalarAsync<bool>(tgt, $"SELECT stop_requested FROM pgshift.tasks WHERE name = '{task}'"));
        var done = await target.ScalarAsync<long>(tgt, $"SELECT count(*) FROM pgshift.copy_tables WHERE task = '{task}' AND status = 'done'");
        Assert.InRange(done, 1, 2);

        // Writes while the task is stopped, to tables copied and not yet copied; then the task resumes and cuts over.
        await source.ExecuteAsync(src, string.Concat(Tables.Select(t =>
            $"UPDATE {t} SET v = 'changed' WHERE id % 1000 = 0; DELETE FROM {t} WHERE id % 777 = 0; INSERT INTO {t} VALUES (200000, 'new');")));
        var resumed = await new MigrationTask(log).RunAsync(options, cutover: true, CancellationToken.None);
        Assert.True(resumed.Finished);
        Assert.Equal(Tables.Length - done, resumed.Copy!.Tables);
        Assert.Equal(await CopyFixture.ChecksumsAsync(source, src, Tables), await CopyFixture.ChecksumsAsync(target, tgt, Tables));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}
