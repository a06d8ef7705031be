using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.Settings;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Copy;

/// <summary>
/// A task stopped (killed, a server restarted) after its slot was created on the source and before the slot was recorded
/// on the target resumes on its own: the slot it left is known to be its own, and is replaced. A slot of that name that the
/// task never began to create is still refused.
/// </summary>
public sealed class InterruptedSlotCreationTests : FreshDatabases
{
    [Fact]
    public async Task A_slot_left_by_an_interrupted_start_is_replaced_and_a_foreign_one_refused()
    {
        var source = TestServer.Pg15;
        var target = TestServer.Pg17;
        var src = await CreateAsync(source, "slsrc");
        var tgt = await CreateAsync(target, "sltgt");
        await source.ExecuteAsync(src, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        var task = "slot_" + Run;
        var slot = TaskName.SlotName(task);
        var defaults = StreamingRun.Options(source, src, target, tgt, task);

        // The schema phase ran; the slot exists on the source; the task never recorded it: what a kill at that moment leaves.
        var schemaOnly = await new MigrationTask(new ListLogger()).RunAsync(new TaskSettings
        {
            Source = defaults.Source, Target = defaults.Target, TaskName = task, Full = false, Incremental = false, RetryWindow = defaults.RetryWindow,
        }, cutover: false, CancellationToken.None);
        Assert.True(schemaOnly.Finished);
        await target.ExecuteAsync(tgt, $"UPDATE pgshift.tasks SET phase = 'copy', slot_creating_at = now() WHERE name = '{task}'");
        await source.ExecuteAsync(src, $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");

        var log = new ListLogger();
        using var cancel = new CancellationTokenSource();
        var running = await StreamingRun.StartAsync(new MigrationTask(log), defaults, cancel.Token);
        Assert.Contains(log.Entries, e => e.Message.Contains($"The slot {slot} was left by an interrupted start", StringComparison.Ordinal));
        await source.ExecuteAsync(src, "INSERT INTO t VALUES (101, 'streamed')");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM t") < 101)
        {
            Assert.True(DateTime.UtcNow < deadline, "the task did not stream after replacing the slot");
            await Task.Delay(100);
        }
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);

        // A slot of the task's name that this target's task never began to create belongs to someone else: refused.
        var other = "slot2_" + Run;
        var tgt2 = await CreateAsync(target, "sltgt2");
        await source.ExecuteAsync(src, $"SELECT pg_create_logical_replication_slot('{TaskName.SlotName(other)}', 'pgoutput')");
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => new MigrationTask(new ListLogger()).RunAsync(
            StreamingRun.Options(source, src, target, tgt2, other), cutover: false, CancellationToken.None));
        Assert.Contains("already exists on the source", refused.ToString(), StringComparison.Ordinal);
        await source.ExecuteAsync(src, $"SELECT pg_drop_replication_slot('{TaskName.SlotName(other)}')");
    }
}
