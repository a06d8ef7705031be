using Npgsql;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// A cutover request belongs to the 'pgshift cutover' process that made it: when that process fails (its migrate
/// process was killed), is killed with SIGKILL, or ends on SIGTERM or SIGHUP, no migrate process ever cuts over on
/// the request it left, however quiet the source gets; and SIGTERM stops a migrate process as 'pgshift stop' does.
/// </summary>
public sealed class CutoverRequestTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private string[] Args => ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "own"];

    [Fact]
    public async Task A_cutover_request_dies_with_the_cutover_process_that_made_it()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        var next = 101;
        async Task WriteAsync(int rows)
        {
            for (var i = 0; i < rows; i++, next++)
            {
                await pair.Source.ExecuteAsync(pair.SourceDb, $"INSERT INTO t VALUES ({next}, 'w')");
            }
        }

        // 1. The migrate process is killed while a cutover waits for it (a locked target table keeps the stream from
        //    catching up): the cutover fails, and a later migrate does not cut over at the first quiet moment.
        var migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "1m", .. Args]);
        await migrate.WaitForAsync("Streaming changes of task own", TimeSpan.FromMinutes(2));
        PgShiftBackground cutover;
        await using (var blocker = await LockTableAsync())
        {
            await WriteAsync(5);
            cutover = new PgShiftBackground(["cutover", "--no-verify", "--retry-window", "1m", .. Args]);
            await cutover.WaitForAsync("to cut over; waiting", TimeSpan.FromMinutes(1));
            migrate.Kill();
            await migrate.DisposeAsync();
            Assert.Equal(1, await cutover.WaitForExitAsync(TimeSpan.FromMinutes(1)));
            Assert.Contains("No pgshift process is running task own", cutover.Output, StringComparison.Ordinal);
            await cutover.DisposeAsync();
        }
        await using (migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "1m", .. Args]))
        {
            await migrate.WaitForAsync("Streaming changes of task own", TimeSpan.FromMinutes(2));
            await AssertStreamsOnAsync(migrate, WriteAsync);

            // 2. A waiting cutover ended by SIGTERM, then one ended by SIGHUP: each withdraws its request on the way out.
            foreach (var signal in new[] { "TERM", "HUP" })
            {
                await using (var blocker = await LockTableAsync())
                {
                    await WriteAsync(3);
                    await using var waiting = new PgShiftBackground(["cutover", "--no-verify", "--retry-window", "1m", .. Args]);
                    await waiting.WaitForAsync("to cut over; waiting", TimeSpan.FromMinutes(1));
                    waiting.Signal(signal);
                    Assert.NotEqual(0, await waiting.WaitForExitAsync(TimeSpan.FromMinutes(1)));
                    Assert.False(await pair.Target.ScalarAsync<bool>(pair.TargetDb, "SELECT cutover_requested FROM pgshift.tasks WHERE name = 'own'"),
                        $"SIGTERM left the request set:\n{waiting.Output}");
                }
                await AssertStreamsOnAsync(migrate, WriteAsync);
            }

            // 3. A waiting cutover killed with SIGKILL leaves its request set; the running task sees that nobody waits for it.
            await using (var blocker = await LockTableAsync())
            {
                await WriteAsync(3);
                await using var killed = new PgShiftBackground(["cutover", "--no-verify", "--retry-window", "1m", .. Args]);
                await killed.WaitForAsync("to cut over; waiting", TimeSpan.FromMinutes(1));
                killed.Kill();
                await killed.WaitForExitAsync(TimeSpan.FromMinutes(1));
            }
            await AssertStreamsOnAsync(migrate, WriteAsync);
            await migrate.WaitForAsync("left by a 'pgshift cutover' that is no longer running", TimeSpan.FromSeconds(30));
            Assert.False(await pair.Target.ScalarAsync<bool>(pair.TargetDb, "SELECT cutover_requested FROM pgshift.tasks WHERE name = 'own'"));

            // 4. SIGTERM stops the migrate process as 'pgshift stop' does: exit 0, task stopped, resumable.
            migrate.Signal("TERM");
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
            Assert.Contains("stopped on request", migrate.Output, StringComparison.Ordinal);
            Assert.Equal("stopped", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT phase FROM pgshift.tasks WHERE name = 'own'"));
        }

        // A cutover that is waited for still works: migrate resumes, the cutover finishes, and the rows are all there.
        await using (migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "1m", .. Args]))
        {
            await migrate.WaitForAsync("Streaming changes of task own", TimeSpan.FromMinutes(2));
            var done = await PgShiftProcess.RunAsync(["cutover", "--timeout", "2m", "--retry-window", "1m", .. Args], timeout: TimeSpan.FromMinutes(3));
            Assert.True(done.ExitCode == 0, done.All + "\nmigrate:\n" + migrate.Output);
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        }
        Assert.Equal(next - 1L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM t"));
        await PgShiftProcess.RunAsync(["cleanup", .. Args]);
    }

    /// <summary>Holds an exclusive lock on the target table, so that the stream cannot apply and a cutover keeps waiting.</summary>
    private async Task<NpgsqlConnection> LockTableAsync()
    {
        var blocker = await pair.Target.OpenAsync(pair.TargetDb);
        await using var begin = new NpgsqlCommand("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE", blocker);
        await begin.ExecuteNonQueryAsync();
        return blocker;
    }

    /// <summary>
    /// The source falls quiet for several seconds (the moment a stale request would be acted on), then takes writes
    /// again: the task keeps streaming and the new rows reach the target.
    /// </summary>
    private async Task AssertStreamsOnAsync(PgShiftBackground migrate, Func<int, Task> write)
    {
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.False(migrate.HasExited, migrate.Output);
        Assert.Equal("stream", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT phase FROM pgshift.tasks WHERE name = 'own'"));
        await write(10);
        var expected = await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM t");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM t") < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, "rows stopped flowing to the target:\n" + migrate.Output);
            await Task.Delay(200);
        }
        Assert.DoesNotContain("cutover: caught up", migrate.Output, StringComparison.Ordinal);
    }
}
