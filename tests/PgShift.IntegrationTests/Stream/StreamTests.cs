using Microsoft.Extensions.Logging.Abstractions;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.Precheck;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

public abstract class StreamTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private async Task<(string Src, string Tgt)> FreshAsync()
    {
        var src = await CreateAsync(source, "ssrc");
        var tgt = await CreateAsync(target, "stgt");
        await source.ExecuteAsync(src, StreamFixture.Schema);
        return (src, tgt);
    }

    private TaskSettings Options(string src, string tgt, string task) => StreamingRun.Options(source, src, target, tgt, task);

    [Fact]
    public async Task Every_change_is_applied_once_in_order_and_cutover_syncs_sequences_and_cleanup_leaves_nothing()
    {
        var (src, tgt) = await FreshAsync();
        var task = "stream_" + Run;
        var running = await StreamingRun.StartAsync(Options(src, tgt, task));

        for (var round = 1; round <= 4; round++)
        {
            await StreamFixture.WriteAsync(source, src, round);
        }
        await StreamFixture.TruncateAndBulkAsync(source, src);
        await StreamFixture.WriteAsync(source, src, 5);
        await source.ExecuteAsync(src, "CREATE TABLE created_late (id int PRIMARY KEY); INSERT INTO created_late VALUES (1);");

        // A cutover request lives as long as the session that made it (a waiting 'pgshift cutover' holds it open).
        await using var cutoverSession = await target.OpenAsync(tgt);
        await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
        var result = await running.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(result.Finished);
        Assert.Equal(StreamOutcome.CaughtUpForCutover, result.Stream);
        // A table created on the source after the task started joins it: the capture of schema changes sees it.
        Assert.Equal(1L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM created_late"));

        await StreamFixture.AssertSameAsync(source, src, target, tgt);
        // Unchanged TOASTed values were kept: the rows updated by qty only still hold their long text.
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT sum(length(big)) FROM items"), await target.ScalarAsync<long>(tgt, "SELECT sum(length(big)) FROM items"));
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT last_value FROM counter"), await target.ScalarAsync<long>(tgt, "SELECT last_value FROM counter"));
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT last_value FROM items_id_seq"), await target.ScalarAsync<long>(tgt, "SELECT last_value FROM items_id_seq"));
        Assert.Equal("finished", await target.ScalarAsync<string>(tgt, $"SELECT phase FROM pgshift.tasks WHERE name = '{task}'"));

        var dropped = await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
        // The slot, the publication, and the capture's two event triggers and two tables.
        Assert.Equal(6, dropped.Count);
        Assert.Equal(0L, await source.ScalarAsync<long>(src, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_{task}'"));
        Assert.Equal(0L, await source.ScalarAsync<long>(src, $"SELECT count(*) FROM pg_publication WHERE pubname = 'pgshift_{task}'"));
    }

    [Fact]
    public async Task A_cutover_asked_right_after_the_last_writes_waits_for_them_even_when_they_are_still_queued()
    {
        var (src, tgt) = await FreshAsync();
        var task = "asked_" + Run;
        var running = await StreamingRun.StartAsync(Options(src, tgt, task));
        await Task.Delay(1500);

        // The request is made in a transaction left open: the stream's next tick, which has read the source's position
        // and found the stream caught up, waits on the task's row to read the requests. Meanwhile the application's
        // last writes commit and reach the stream's queue, where nothing applies them while the tick waits. Then the
        // request commits, and the tick that sees it must not take those writes for applied.
        await using var cutoverSession = await target.OpenAsync(tgt);
        await using (var asking = await cutoverSession.BeginTransactionAsync())
        {
            await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
            await Task.Delay(600);
            await source.ExecuteAsync(src, "INSERT INTO dup SELECT 'last ' || g, g FROM generate_series(1, 10) g");
            await Task.Delay(1000);
            await asking.CommitAsync();
        }
        var result = await running.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.Equal(StreamOutcome.CaughtUpForCutover, result.Stream);
        Assert.Equal(13L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM dup"));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task A_stream_cancelled_while_writes_go_on_resumes_without_losing_or_repeating_a_change()
    {
        var (src, tgt) = await FreshAsync();
        var task = "resume_" + Run;
        using var cancel = new CancellationTokenSource();
        var running = await StreamingRun.StartAsync(Options(src, tgt, task), cancel.Token);

        // Writes go on while the stream is cut off in the middle of applying them.
        var writes = Task.Run(async () =>
        {
            for (var round = 1; round <= 6; round++)
            {
                await StreamFixture.WriteAsync(source, src, round);
            }
        });
        await Task.Delay(300);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await writes;
        var appliedBefore = await target.ScalarAsync<string>(tgt, $"SELECT applied_lsn::text FROM pgshift.tasks WHERE name = '{task}'");

        // Started again, it picks up where the target's checkpoint says, and cuts over.
        var second = await new MigrationTask(NullLogger.Instance).RunAsync(Options(src, tgt, task), cutover: true, CancellationToken.None);
        Assert.True(second.Finished);
        // A resumed stream goes straight to the stream: no pass of the copy at all.
        Assert.Null(second.Copy);
        await StreamFixture.AssertSameAsync(source, src, target, tgt);
        Assert.NotEqual(appliedBefore, await target.ScalarAsync<string>(tgt, $"SELECT applied_lsn::text FROM pgshift.tasks WHERE name = '{task}'"));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}

public sealed class StreamConflictTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    [Fact]
    public async Task A_change_whose_row_is_missing_stops_the_task_naming_table_key_and_lsn()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct SELECT g, 100 FROM generate_series(1, 10) g;");
        var options = new TaskSettings { Source = pair.Source.Spec(pair.SourceDb), Target = pair.Target.Spec(pair.TargetDb), TaskName = "conflict", RetryWindow = TimeSpan.FromSeconds(10) };
        var running = await StreamingRun.StartAsync(options);

        // Someone deletes a row on the target; the source then updates it.
        await pair.Target.ExecuteAsync(pair.TargetDb, "DELETE FROM acct WHERE id = 7");
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE acct SET balance = 50 WHERE id = 7");

        var ex = await Assert.ThrowsAsync<TaskFailedException>(() => running.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("Conflict applying UPDATE to \"public\".\"acct\" key (id=7)", ex.Message, StringComparison.Ordinal);
        Assert.Matches(@"committed at [0-9A-F]+/[0-9A-F]+", ex.Message);
        Assert.Contains("--on-conflict ignore", ex.Fix, StringComparison.Ordinal);
        Assert.Contains("Conflict applying UPDATE", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT last_error FROM pgshift.tasks WHERE name = 'conflict'"), StringComparison.Ordinal);

        // With the ignore policy the task goes on past it, and the other rows keep flowing.
        await pair.Source.ExecuteAsync(pair.SourceDb, "UPDATE acct SET balance = 60 WHERE id = 8");
        var log = new ListLogger();
        var ignoring = new MigrationTask(log);
        var result = await ignoring.RunAsync(new TaskSettings
        {
            Source = options.Source, Target = options.Target, TaskName = "conflict", RetryWindow = TimeSpan.FromSeconds(10),
            Conflicts = ConflictPolicy.Ignore,
        }, cutover: true, CancellationToken.None);
        Assert.True(result.Finished);
        Assert.Equal(60, await pair.Target.ScalarAsync<int>(pair.TargetDb, "SELECT balance FROM acct WHERE id = 8"));
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM acct WHERE id = 7"));
        // Skipped, and said: the update of the missing row is counted in a warning.
        Assert.Contains(log.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning
            && e.Message.Contains("Skipped 1 conflicting changes (--on-conflict ignore", StringComparison.Ordinal) && e.Message.Contains("to \"public\".\"acct\"", StringComparison.Ordinal));
        await SlotCleanup.CleanupAsync(options.Source, "conflict", CancellationToken.None);
    }
}

public sealed class StreamDdlTests(Pg12To17 pair) : IClassFixture<Pg12To17>
{
    [Fact]
    public async Task Without_the_privilege_to_capture_schema_changes_a_column_added_on_the_source_stops_the_task_naming_the_table_and_the_column()
    {
        // A source user that is not a superuser may not create event triggers: the task says so and stops at the change.
        await pair.Source.ExecuteAsync(pair.SourceDb, $"""
            DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ddl_plain') THEN CREATE ROLE ddl_plain LOGIN REPLICATION; END IF; END $$;
            GRANT CREATE ON DATABASE "{pair.SourceDb}" TO ddl_plain;
            CREATE TABLE ddltab (id int PRIMARY KEY, v text); INSERT INTO ddltab VALUES (1, 'a'); ALTER TABLE ddltab OWNER TO ddl_plain;
            """);
        var options = new TaskSettings { Source = pair.Source.Spec(pair.SourceDb, "ddl_plain"), Target = pair.Target.Spec(pair.TargetDb), TaskName = "ddl", RetryWindow = TimeSpan.FromSeconds(10) };
        // The precheck says so first, with the way out.
        var precheck = await PgShift.Tasks.SchemaPrecheck.Runner(options).RunAsync(new PrecheckOptions
        {
            Source = options.Source, Target = options.Target, TaskName = options.TaskName, ConnectTimeoutSeconds = 5,
        }, CancellationToken.None);
        var capture = Assert.Single(precheck.Checks, c => c.Id == "source.schema_changes");
        Assert.Equal(CheckStatus.Warning, capture.Status);
        Assert.Contains("not a superuser", capture.Message, StringComparison.Ordinal);
        Assert.Contains("rds_superuser", capture.Fix, StringComparison.Ordinal);
        var log = new ListLogger();
        var running = await StreamingRun.StartAsync(options, logger: log);
        Assert.Contains(log.Entries, e => e.Message.Contains("Schema changes on the source will not be followed", StringComparison.Ordinal) && e.Message.Contains("not a superuser", StringComparison.Ordinal));

        await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO ddltab VALUES (2, 'before')");
        await pair.Source.ExecuteAsync(pair.SourceDb, "ALTER TABLE ddltab ADD COLUMN extra int");
        await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO ddltab VALUES (3, 'after', 7)");
        var ex = await Assert.ThrowsAsync<TaskFailedException>(() => running.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("The columns of \"public\".\"ddltab\" changed on the source", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Contains("added or changed extra", StringComparison.Ordinal), ex.Message);
        Assert.DoesNotContain("dropped", ex.Message, StringComparison.Ordinal);
        // What came before the change is applied and checkpointed; nothing after it.
        Assert.Equal(2L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM ddltab"));
        await SlotCleanup.CleanupAsync(options.Source, "ddl", CancellationToken.None);
    }
}

public sealed class StreamTests_12_to_17() : StreamTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class StreamTests_15_to_17() : StreamTestsBase(TestServer.Pg15, TestServer.Pg17);
