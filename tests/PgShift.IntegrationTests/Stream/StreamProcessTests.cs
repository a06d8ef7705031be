using System.Diagnostics;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Stream;

/// <summary>The change stream as a user runs it: the pgshift process killed, restarted, its source server restarted.</summary>
public sealed class StreamProcessTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private string[] Args(string task, string source, string target) =>
        ["--source", source, "--target", target, "--task", task];

    [Fact]
    public async Task Killed_migrate_process_restarted_loses_and_repeats_no_change()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, StreamFixture.Schema);
        var args = Args("killstream", pair.Source.KeywordValue(pair.SourceDb), pair.Target.KeywordValue(pair.TargetDb));
        await using (var first = new PgShiftBackground(["migrate", "--retry-window", "2m", .. args]))
        {
            await first.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
            var writes = Task.Run(async () =>
            {
                for (var round = 1; round <= 8; round++)
                {
                    await StreamFixture.WriteAsync(pair.Source, pair.SourceDb, round);
                }
            });
            // Kill it while it applies: once some of the writes are in, not all.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT coalesce(changes_applied, 0) FROM pgshift.tasks WHERE name = 'killstream'") == 0)
            {
                await Task.Delay(50);
            }
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            await writes;
            // Not a terminal: plain progress lines for the copy.
            Assert.Matches(@"copy  total: 9/9 tables", first.Output);
        }
        await StreamFixture.TruncateAndBulkAsync(pair.Source, pair.SourceDb);

        await using var second = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "2m", .. args]);
        await second.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--retry-window", "2m", .. args], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("finished", second.Output, StringComparison.Ordinal);
        // The resumed stream starts without going through the schema and the copy again; plain progress lines for the stream.
        Assert.Contains("resumes its change stream", second.Output, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"copy  total:", second.Output);
        Assert.Matches(@"stream  (not delayed|delay [\d.]+ s)", second.Output);
        Assert.DoesNotContain("\u001b[", second.Output, StringComparison.Ordinal);
        await StreamFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb);

        var status = await PgShiftProcess.RunAsync(["status", "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "killstream"]);
        Assert.Contains("phase    finished", status.Stdout, StringComparison.Ordinal);
        var cleanup = await PgShiftProcess.RunAsync(["cleanup", .. args]);
        Assert.True(cleanup.ExitCode == 0, cleanup.All);
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_killstream'"));
    }
}

/// <summary>A source of its own, so that restarting it disturbs no other test.</summary>
public sealed class ServerRestartTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pgshift-restart-" + Guid.NewGuid().ToString("N")[..8]);
    // Below the ephemeral port range (32768+), where an outgoing connection could hold the port.
    private readonly int _port = 26000 + Random.Shared.Next(0, 5000);
    private string? _targetDb;

    private Dictionary<string, string> ServerEnv => new()
    {
        ["PGSHIFT_TEST_DIR"] = _dir,
        ["PGSHIFT_SERVERS"] = "pg15",
        ["PGSHIFT_PG15_PORT"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "servers", "pg-servers.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/servers/pg-servers.sh not found above the test binaries");
    }

    private async Task ServersAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in ServerEnv)
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"pg-servers.sh {string.Join(' ', args)} failed: {await err}");
    }

    public async Task InitializeAsync() => await ServersAsync("start");

    public async Task DisposeAsync()
    {
        await ServersAsync("stop");
        Directory.Delete(_dir, recursive: true);
        if (_targetDb is not null)
        {
            await TestServer.Pg17.DropDatabaseAsync(_targetDb);
        }
    }

    [Fact]
    public async Task Source_restarts_during_the_stream_are_retried_each_within_its_own_window_and_the_task_resumes_by_itself()
    {
        var source = $"host=127.0.0.1 port={_port} user=postgres dbname=postgres";
        _targetDb = await TestServer.Pg17.CreateDatabaseAsync("restart");
        await using (var conn = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres"))
        {
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g;", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        // A short window: the second restart comes after the window of the first has closed, and is an outage of its own.
        var args = new[] { "--source", source, "--target", TestServer.Pg17.KeywordValue(_targetDb), "--task", "restart" };
        await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "20s", .. args]);
        await WaitForStreamSessionsAsync(migrate, 1);

        await ExecAsync("INSERT INTO t SELECT g, 'before restart' FROM generate_series(1001, 1100) g");
        await ServersAsync("restart", "pg15");
        await ExecAsync("INSERT INTO t SELECT g, 'after restart' FROM generate_series(1101, 1200) g; UPDATE t SET v = 'updated' WHERE id <= 10");
        await WaitForStreamSessionsAsync(migrate, 2);
        await Task.Delay(TimeSpan.FromSeconds(22));

        await ServersAsync("restart", "pg15");
        await ExecAsync("INSERT INTO t SELECT g, 'after second restart' FROM generate_series(1201, 1300) g; DELETE FROM t WHERE id BETWEEN 11 AND 20");
        await WaitForStreamSessionsAsync(migrate, 3);

        await CutOverAsync(args, migrate);
        Assert.True(migrate.Output.Split("Change stream interrupted").Length - 1 >= 2, "two outages expected:\n" + migrate.Output);
        Assert.Equal(1290L, await TestServer.Pg17.ScalarAsync<long>(_targetDb, "SELECT count(*) FROM t"));
        Assert.Equal(10L, await TestServer.Pg17.ScalarAsync<long>(_targetDb, "SELECT count(*) FROM t WHERE v = 'updated'"));
        Assert.Equal(100L, await TestServer.Pg17.ScalarAsync<long>(_targetDb, "SELECT count(*) FROM t WHERE v = 'after restart'"));
        Assert.Equal(100L, await TestServer.Pg17.ScalarAsync<long>(_targetDb, "SELECT count(*) FROM t WHERE v = 'after second restart'"));
        await PgShiftProcess.RunAsync(["cleanup", .. args]);
    }

    [Fact]
    public async Task Source_restart_during_the_copy_is_resumed_in_the_same_process_from_a_new_snapshot()
    {
        var source = $"host=127.0.0.1 port={_port} user=postgres dbname=postgres";
        _targetDb = await TestServer.Pg17.CreateDatabaseAsync("crestart");
        var tables = Enumerable.Range(1, 8).Select(i => $"c{i}").ToArray();
        await ExecAsync(string.Join("\n", tables.Select(t =>
            $"CREATE TABLE {t} (id int PRIMARY KEY, v text); INSERT INTO {t} SELECT g, md5(g::text) FROM generate_series(1, 400000) g;")));
        // One job: the tables are copied one after the other, and the restart comes while the first ones are done.
        var args = new[] { "--source", source, "--target", TestServer.Pg17.KeywordValue(_targetDb), "--task", "crestart" };
        await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--jobs", "1", "--retry-window", "2m", .. args]);
        await migrate.WaitForAsync("Copied \"public\".", TimeSpan.FromMinutes(2));
        await ServersAsync("restart", "pg15");
        await ExecAsync("UPDATE c1 SET v = 'after restart' WHERE id <= 100; DELETE FROM c8 WHERE id <= 50; INSERT INTO c5 VALUES (400001, 'new')");
        await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(3));
        await ExecAsync("UPDATE c2 SET v = 'streamed' WHERE id % 1000 = 0");

        await CutOverAsync(args, migrate);
        Assert.Contains("The copy was interrupted", migrate.Output, StringComparison.Ordinal);
        await using var conn = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres");
        await conn.OpenAsync();
        foreach (var t in tables)
        {
            var rows = $"SELECT count(*) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM {t}";
            await using var cmd = new Npgsql.NpgsqlCommand(rows, conn);
            Assert.Equal((string?)await cmd.ExecuteScalarAsync(), await TestServer.Pg17.ScalarAsync<string>(_targetDb, rows));
        }
        await PgShiftProcess.RunAsync(["cleanup", .. args]);
    }

    [Fact]
    public async Task Target_restart_while_indexes_are_built_is_resumed_by_the_running_task()
    {
        // Here the server of this class is the target; the source is the shared PostgreSQL 15.
        var sourceDb = await TestServer.Pg15.CreateDatabaseAsync("pdrestart");
        try
        {
            await TestServer.Pg15.ExecuteAsync(sourceDb, "CREATE TABLE big (id int PRIMARY KEY, a text, b text, n int)");
            for (var from = 0; from < 1_500_000; from += 250_000)
            {
                await TestServer.Pg15.ExecuteAsync(sourceDb, $"INSERT INTO big SELECT g, md5(g::text), md5((g * 7)::text), g % 1000 FROM generate_series({from + 1}, {from + 250_000}) g");
            }
            foreach (var index in new[] { "big_a ON big (a)", "big_b ON big (b, a)", "big_n ON big (n, b)" })
            {
                await TestServer.Pg15.ExecuteAsync(sourceDb, "CREATE INDEX " + index);
            }
            var target = $"host=127.0.0.1 port={_port} user=postgres dbname=postgres";
            var args = new[] { "--source", TestServer.Pg15.KeywordValue(sourceDb), "--target", target, "--task", "pdrestart" };
            await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "2m", .. args]);
            // The key is built first; the three indexes (seconds each) are being built when the target restarts.
            await migrate.WaitForAsync("Built constraint", TimeSpan.FromMinutes(3));
            await ServersAsync("restart", "pg15");
            await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(3));
            await TestServer.Pg15.ExecuteAsync(sourceDb, "UPDATE big SET n = -1 WHERE id <= 100; DELETE FROM big WHERE id > 1499990");

            await CutOverAsync(args, migrate);
            Assert.Contains("was interrupted in its post-data phase", migrate.Output, StringComparison.Ordinal);
            await using var conn = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres");
            await conn.OpenAsync();
            const string indexes = "SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'big'::regclass AND indisvalid";
            await using (var cmd = new Npgsql.NpgsqlCommand(indexes, conn))
            {
                Assert.Equal("big_a,big_b,big_n,big_pkey", (string?)await cmd.ExecuteScalarAsync());
            }
            const string rows = "SELECT count(*) || ':' || sum(n) || ':' || md5(string_agg(id || a || b, ',' ORDER BY id)) FROM big";
            await using (var cmd = new Npgsql.NpgsqlCommand(rows, conn))
            {
                Assert.Equal(await TestServer.Pg15.ScalarAsync<string>(sourceDb, rows), (string?)await cmd.ExecuteScalarAsync());
            }
            await PgShiftProcess.RunAsync(["cleanup", .. args]);
        }
        finally
        {
            await TestServer.Pg15.DropDatabaseAsync(sourceDb);
        }
    }

    [Fact]
    public async Task Target_restart_while_batches_are_applied_is_retried_and_nothing_is_lost_or_repeated()
    {
        // Here the server of this class is the target; the source is the shared PostgreSQL 15.
        var sourceDb = await TestServer.Pg15.CreateDatabaseAsync("trestart");
        try
        {
            await TestServer.Pg15.ExecuteAsync(sourceDb, "CREATE TABLE t (id int PRIMARY KEY, v text, n int); INSERT INTO t SELECT g, 'v', 0 FROM generate_series(1, 1000) g;");
            var target = $"host=127.0.0.1 port={_port} user=postgres dbname=postgres";
            var args = new[] { "--source", TestServer.Pg15.KeywordValue(sourceDb), "--target", target, "--task", "trestart" };
            await using var migrate = new PgShiftBackground(["migrate", "--verbose", "--retry-window", "2m", .. args]);
            await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(2));

            // Writes go on, in many small transactions and a few large ones, while the target restarts under the stream.
            var writes = Task.Run(async () =>
            {
                for (var i = 0; i < 40; i++)
                {
                    await TestServer.Pg15.ExecuteAsync(sourceDb, $"""
                        INSERT INTO t SELECT g, 'round {i}', {i} FROM generate_series({2000 + i * 500}, {2499 + i * 500}) g;
                        UPDATE t SET n = n + 1 WHERE id % 7 = {i % 7};
                        DELETE FROM t WHERE id = {2000 + i * 500};
                        """);
                }
            });
            await Task.Delay(300);
            await ServersAsync("restart", "pg15");
            await writes;
            // The stream picks up by itself (and takes the task's lock on the target again) before the cutover asks.
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (migrate.Output.Split("Streaming changes of task trestart").Length < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            await CutOverAsync(args, migrate);
            Assert.Contains("Change stream interrupted", migrate.Output, StringComparison.Ordinal);
            const string rows = "SELECT count(*) || ':' || sum(n) || ':' || md5(string_agg(id || v || n, ',' ORDER BY id)) FROM t";
            var expected = await TestServer.Pg15.ScalarAsync<string>(sourceDb, rows);
            await using var conn = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres");
            await conn.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand(rows, conn);
            Assert.Equal(expected, (string?)await cmd.ExecuteScalarAsync());
            await PgShiftProcess.RunAsync(["cleanup", .. args]);
        }
        finally
        {
            await TestServer.Pg15.DropDatabaseAsync(sourceDb);
        }
    }

    /// <summary>Waits until the migrate process has started streaming <paramref name="sessions"/> times.</summary>
    private static async Task WaitForStreamSessionsAsync(PgShiftBackground migrate, int sessions)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (migrate.Output.Split("Streaming changes of task").Length - 1 < sessions)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the stream did not start session {sessions}:\n{migrate.Output}");
            Assert.False(migrate.HasExited, "migrate exited:\n" + migrate.Output);
            await Task.Delay(100);
        }
    }

    /// <summary>pgshift cutover while the migrate process runs; both must end with code 0 (their output in the failure otherwise).</summary>
    private static async Task CutOverAsync(string[] args, PgShiftBackground migrate)
    {
        PgShiftProcess.Result cutover;
        try
        {
            cutover = await PgShiftProcess.RunAsync(["cutover", .. args], timeout: TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            var status = await PgShiftProcess.RunAsync(["status", .. args]);
            throw new TimeoutException("cutover did not finish; status:\n" + status.All + "\nmigrate:\n" + migrate.Output);
        }
        Assert.True(cutover.ExitCode == 0, cutover.All + "\nmigrate:\n" + migrate.Output);
        // A migrate that does not exit fails with its output (PgShiftBackground.WaitForExitAsync).
        var exit = await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, "migrate exited with " + exit + ":\n" + cutover.All + "\nmigrate:\n" + migrate.Output);
    }

    private async Task ExecAsync(string sql)
    {
        // The server may still be starting after the restart.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await using var conn = new Npgsql.NpgsqlConnection($"Host=127.0.0.1;Port={_port};Username=postgres;Database=postgres");
                await conn.OpenAsync();
                await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
                await cmd.ExecuteNonQueryAsync();
                return;
            }
            catch (Npgsql.NpgsqlException) when (attempt < 50)
            {
                await Task.Delay(200);
            }
        }
    }
}
