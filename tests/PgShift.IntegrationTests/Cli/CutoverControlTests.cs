using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// The operator's controls around the cutover, through the CLI: a table and a sequence created on the source while the
/// task streams (a resumed task goes on, the cutover names them), a cutover that times out (its request is withdrawn,
/// the task goes on streaming), a fenced cutover (the source database is read-only), cleanup --purge, and slots left by
/// other tasks (listed, dropped on request).
/// </summary>
public sealed class CutoverControlTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    [Fact]
    public async Task New_objects_a_timed_out_cutover_a_fenced_cutover_purge_and_leftover_slots()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        var args = new[] { "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "ctl" };

        var first = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "1m", .. args]);
        await first.WaitForAsync("Streaming changes of task ctl", TimeSpan.FromMinutes(2));
        // Created on the source after the task started: captured, so the table joins the task with its rows, and the sequence is created.
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE TABLE newt (id int PRIMARY KEY); INSERT INTO newt VALUES (1); CREATE SEQUENCE s_extra; SELECT setval('s_extra', 4242);");
        await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO t VALUES (101, 'before the stop')");
        Assert.Equal(0, (await PgShiftProcess.RunAsync(["stop", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "ctl"])).ExitCode);
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        await first.DisposeAsync();

        await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "1m", .. args]);
        await migrate.WaitForAsync("Streaming changes of task ctl", TimeSpan.FromMinutes(2));

        // The target table is locked, so the stream cannot catch up: the cutover gives up and withdraws its request.
        await using (var blocker = await pair.Target.OpenAsync(pair.TargetDb))
        {
            await using (var begin = new Npgsql.NpgsqlCommand("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE", blocker))
            {
                await begin.ExecuteNonQueryAsync();
            }
            await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO t VALUES (102, 'while locked')");
            var timedOut = await PgShiftProcess.RunAsync(["cutover", "--timeout", "3s", "--retry-window", "1m", .. args], timeout: TimeSpan.FromMinutes(1));
            Assert.True(timedOut.ExitCode == 1, timedOut.All);
            Assert.Contains("did not catch up within", timedOut.Stderr, StringComparison.Ordinal);
            Assert.False(await pair.Target.ScalarAsync<bool>(pair.TargetDb, "SELECT cutover_requested FROM pgshift.tasks WHERE name = 'ctl'"));
        }
        await Task.Delay(1500);
        Assert.False(migrate.HasExited, migrate.Output);
        Assert.Equal("stream", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT phase FROM pgshift.tasks WHERE name = 'ctl'"));

        // Fenced: the source database takes no more writes, and the cutover finishes (verify included).
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--fence", "--timeout", "2m", "--no-verify", "--retry-window", "1m", .. args], timeout: TimeSpan.FromMinutes(3));
        Npgsql.NpgsqlConnection.ClearAllPools();
        Assert.True(cutover.ExitCode == 0, cutover.All + "\nmigrate:\n" + migrate.Output);
        Assert.Contains("fence: the source database stays read-only", cutover.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        var write = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO t VALUES (103, 'after the fence')"));
        Assert.Equal("25006", write.SqlState);
        Assert.Equal(102L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM t"));
        Assert.Equal(1L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM newt"));
        Assert.Equal(4242L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT last_value FROM s_extra"));
        // verify finds nothing missing: the new table is on the target with its rows.
        var verify = await PgShiftProcess.RunAsync(["verify", .. args]);
        Assert.True(verify.ExitCode == 0, verify.All);
        Assert.DoesNotContain("MISSING", verify.Stdout, StringComparison.Ordinal);

        // Slots of other PgShift tasks are listed, and dropped when asked; purge removes the task's record.
        await pair.Source.ExecuteAsync(pair.SourceDb, "SET default_transaction_read_only = off; SELECT pg_create_logical_replication_slot('pgshift_orphan', 'pgoutput');");
        var cleanup = await PgShiftProcess.RunAsync(["cleanup", "--purge", .. args]);
        Assert.True(cleanup.ExitCode == 0, cleanup.All);
        Assert.Contains("slot pgshift_orphan of PgShift on the source: not in use", cleanup.Stdout, StringComparison.Ordinal);
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pgshift.tasks WHERE name = 'ctl'"));
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pgshift.copy_tables WHERE task = 'ctl'"));
        var drop = await PgShiftProcess.RunAsync(["cleanup", "--drop-slot", "pgshift_orphan", .. args]);
        Assert.True(drop.ExitCode == 0, drop.All);
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('pgshift_orphan', 'pgshift_ctl')"));
        await pair.Source.ExecuteAsync("postgres", $"ALTER DATABASE \"{pair.SourceDb}\" RESET default_transaction_read_only");
    }
}
