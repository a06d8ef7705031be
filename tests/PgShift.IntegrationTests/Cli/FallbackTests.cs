using Npgsql;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// The round trip, 12 → 17 and back 17 → 12, through the CLI: migrate with a renamed table, a renamed column and an
/// excluded column; cutover --reverse (the reverse slot on the target, the source fenced); the application's writes on
/// the target (inserts, updates of TOASTed rows and of their TOASTed values, deletes, a truncate, sequences); the
/// reverse stream killed with kill -9 mid-way and resumed; fallback: the old source equals the target, exactly once.
/// </summary>
public sealed class FallbackTests(Pg12To17 pair) : IClassFixture<Pg12To17>
{
    private const string Schema = """
        CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL, balance numeric(12,2), doc text, secret text DEFAULT 'hidden');
        INSERT INTO accounts (name, balance, doc, secret)
          SELECT 'a' || g, g * 1.25, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 400) i), 'pw' || g FROM generate_series(1, 300) g;
        CREATE TABLE events (id int PRIMARY KEY, kind text, payload text);
        INSERT INTO events SELECT g, 'k' || (g % 5), 'p' || g FROM generate_series(1, 500) g;
        CREATE TABLE scratch (id int PRIMARY KEY, v text);
        INSERT INTO scratch SELECT g, 's' || g FROM generate_series(1, 50) g;
        -- No key: an insert applied twice would show as a row too many.
        CREATE TABLE ledger (who text, n int);
        ALTER TABLE ledger REPLICA IDENTITY FULL;
        INSERT INTO ledger SELECT 'source', g FROM generate_series(1, 100) g;
        -- A trigger of the source's application: it must not fire for the changes the reverse stream applies.
        CREATE TABLE audit (id bigserial PRIMARY KEY, account bigint, at text);
        CREATE FUNCTION audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN INSERT INTO audit (account, at) VALUES (NEW.id, current_setting('application_name')); RETURN NEW; END $$;
        CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE PROCEDURE audit_account();
        -- What a replica apply session would trip over: an identity GENERATED ALWAYS (the stream sets every column) and a
        -- trigger enabled ALWAYS (it would fire for the applied rows, whose values it made on the target already).
        CREATE TABLE tagged (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
        INSERT INTO tagged (label) SELECT 't' || g FROM generate_series(1, 20) g;
        CREATE FUNCTION tagged_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.label := NEW.label || '!'; RETURN NEW; END $$;
        CREATE TRIGGER tagged_stamp BEFORE UPDATE ON tagged FOR EACH ROW EXECUTE PROCEDURE tagged_stamp();
        ALTER TABLE tagged ENABLE ALWAYS TRIGGER tagged_stamp;
        CREATE SEQUENCE tickets;
        SELECT setval('tickets', 77);
        -- Excluded and NOT NULL without a default: the way back could not insert rows without it (only the precheck uses it).
        CREATE TABLE strict (id int PRIMARY KEY, must text NOT NULL);
        SELECT lo_from_bytea(4242, 'a large object of the source');
        """;

    // The same rows on both sides, under each side's names; the excluded column is not compared.
    private static readonly (string Source, string Target)[] Digests =
    [
        ("SELECT count(*) || ':' || md5(string_agg(id || '|' || name || '|' || coalesce(balance::text, '-') || '|' || coalesce(md5(doc), '-'), ',' ORDER BY id)) FROM accounts",
         "SELECT count(*) || ':' || md5(string_agg(id || '|' || name || '|' || coalesce(amount::text, '-') || '|' || coalesce(md5(doc), '-'), ',' ORDER BY id)) FROM accounts"),
        ("SELECT count(*) || ':' || md5(string_agg(id || '|' || kind || '|' || coalesce(payload, '-'), ',' ORDER BY id)) FROM events",
         "SELECT count(*) || ':' || md5(string_agg(id || '|' || kind || '|' || coalesce(payload, '-'), ',' ORDER BY id)) FROM log_events"),
        ("SELECT count(*) || ':' || coalesce(md5(string_agg(id || v, ',' ORDER BY id)), '') FROM scratch",
         "SELECT count(*) || ':' || coalesce(md5(string_agg(id || v, ',' ORDER BY id)), '') FROM scratch"),
        ("SELECT count(*) || ':' || md5(string_agg(who || n, ',' ORDER BY who, n)) FROM ledger",
         "SELECT count(*) || ':' || md5(string_agg(who || n, ',' ORDER BY who, n)) FROM ledger"),
        ("SELECT count(*) || ':' || md5(string_agg(id || '|' || account || '|' || at, ',' ORDER BY id)) FROM audit",
         "SELECT count(*) || ':' || md5(string_agg(id || '|' || account || '|' || at, ',' ORDER BY id)) FROM audit"),
        ("SELECT count(*) || ':' || md5(string_agg(id || label, ',' ORDER BY id)) FROM tagged",
         "SELECT count(*) || ':' || md5(string_agg(id || label, ',' ORDER BY id)) FROM tagged"),
        ("SELECT last_value || ':' || is_called FROM tagged_id_seq", "SELECT last_value || ':' || is_called FROM tagged_id_seq"),
        ("SELECT last_value || ':' || is_called FROM accounts_id_seq", "SELECT last_value || ':' || is_called FROM accounts_id_seq"),
        ("SELECT last_value || ':' || is_called FROM tickets", "SELECT last_value || ':' || is_called FROM tickets"),
        ("SELECT last_value || ':' || is_called FROM audit_id_seq", "SELECT last_value || ':' || is_called FROM audit_id_seq"),
    ];

    private string TaskFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgshift-fallback-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, """
            exclude_tables: [public.strict]
            exclude_columns: [public.accounts.secret]
            mapping:
              tables: {"public.events": log_events}
              columns: {"public.accounts.balance": amount}
            """);
        return path;
    }

    [Fact]
    public async Task Round_trip_with_a_killed_reverse_stream_leaves_the_old_source_equal_to_the_target_exactly_once()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, Schema);
        var source = pair.Source.KeywordValue(pair.SourceDb);
        var target = pair.Target.KeywordValue(pair.TargetDb);

        // The precheck of the way back names an excluded column that the source could not do without.
        var strict = await PgShiftProcess.RunAsync(["precheck", "--reverse", "--source", source, "--target", target, "--task", "strict",
            "--include-table", "public.strict", "--exclude-column", "public.strict.must"]);
        Assert.True(strict.ExitCode == 1, strict.All);
        Assert.Matches("FAILED +way_back .*\"public\"\\.\"strict\"\\.\"must\" are NOT NULL without a default", strict.Stdout);

        var file = TaskFile();
        var args = new[] { "--source", source, "--target", target, "--task", "round", "--task-file", file, "--retry-window", "2m" };
        await using (var migrate = new PgShiftBackground(["migrate", .. args]))
        {
            await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(3));
            await pair.Source.ExecuteAsync(pair.SourceDb, """
                INSERT INTO accounts (name, balance, secret) VALUES ('streamed', 1, 'pw');
                UPDATE events SET kind = 'streamed' WHERE id <= 10;
                INSERT INTO ledger VALUES ('source streamed', 1), ('source streamed', 1);
                SELECT nextval('tickets');
                """);
            var cutover = await PgShiftProcess.RunAsync(["cutover", "--reverse", "--timeout", "3m", .. args], timeout: TimeSpan.FromMinutes(4));
            Assert.True(cutover.ExitCode == 0, cutover.All + "\nmigrate:\n" + migrate.Output);
            Assert.Contains("way back: slot pgshift_round on the target", cutover.Stdout, StringComparison.Ordinal);
            Assert.Contains("fence: the source database stays read-only", cutover.Stdout, StringComparison.Ordinal);
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        }
        NpgsqlConnection.ClearAllPools();
        // The source is fenced for the application; its forward slot is gone (it would pin the WAL the way back writes), the reverse one is on the target.
        var fenced = await Assert.ThrowsAsync<PostgresException>(() => pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO ledger VALUES ('late', 0)"));
        Assert.Equal("25006", fenced.SqlState);
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>("postgres", $"SELECT count(*) FROM pg_replication_slots WHERE database = '{pair.SourceDb}'"));
        Assert.Equal(1L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgshift_round'"));
        foreach (var (sourceSql, targetSql) in Digests)
        {
            Assert.Equal(await pair.Source.ScalarAsync<string>(pair.SourceDb, sourceSql), await pair.Target.ScalarAsync<string>(pair.TargetDb, targetSql));
        }

        // The application now writes to the target: before the reverse stream runs, while it runs, and after it was killed.
        await WriteOnTargetAsync(0);
        await pair.Target.ExecuteAsync(pair.TargetDb, "SELECT lo_put(4242, 0, '\\x41'::bytea); SELECT lo_from_bytea(4343, 'made on the target')");
        string[] reverseArgs = ["migrate", "--reverse", .. args];
        await using (var first = new PgShiftBackground(reverseArgs))
        {
            await first.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
            var writes = Task.Run(async () =>
            {
                for (var round = 1; round <= 12; round++)
                {
                    await WriteOnTargetAsync(round);
                }
            });
            var deadline = DateTime.UtcNow.AddSeconds(60);
            // Killed once some of the target's transactions are committed on the source (changes_applied counts changes sent, not committed).
            while (DateTime.UtcNow < deadline && await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM ledger WHERE who LIKE 'target %'") == 0)
            {
                await Task.Delay(50);
            }
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            // Killed mid-way: some of the target's transactions were applied (and must not be applied again), others not yet.
            Assert.True(await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM ledger WHERE who LIKE 'target %'") >= 3, first.Output);
            await writes;
        }
        await WriteOnTargetAsync(13);
        await pair.Target.ExecuteAsync(pair.TargetDb, "TRUNCATE scratch; INSERT INTO scratch SELECT g, 'after truncate' FROM generate_series(1, 5) g;");

        // Stopped on request, as the forward stream is, and resumed.
        await using (var stopped = new PgShiftBackground(reverseArgs))
        {
            await stopped.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
            var stop = await PgShiftProcess.RunAsync(["stop", "--reverse", "--source", source, "--target", target, "--task", "round"]);
            Assert.True(stop.ExitCode == 0, stop.All);
            Assert.Contains("'pgshift migrate --reverse' resumes it", stop.Stdout, StringComparison.Ordinal);
            Assert.Equal(0, await stopped.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        }
        await WriteOnTargetAsync(14);

        // No reverse stream runs now: the fallback streams what is left itself.
        var status = await PgShiftProcess.RunAsync(["status", "--reverse", "--source", source, "--target", target, "--task", "round"]);
        Assert.True(status.ExitCode == 0, status.All);
        Assert.Contains("(way back)", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("phase    stopped", status.Stdout, StringComparison.Ordinal);
        var fallback = await PgShiftProcess.RunAsync(["fallback", "--fence", "--timeout", "3m", .. args], timeout: TimeSpan.FromMinutes(4));
        NpgsqlConnection.ClearAllPools();
        Assert.True(fallback.ExitCode == 0, fallback.All);
        Assert.Contains("fence: the target database stays read-only", fallback.Stdout, StringComparison.Ordinal);
        Assert.Contains("fence: the source database takes writes again", fallback.Stdout, StringComparison.Ordinal);

        // The old source equals the target: every table, and the sequences.
        foreach (var (sourceSql, targetSql) in Digests)
        {
            Assert.Equal(await pair.Target.ScalarAsync<string>(pair.TargetDb, targetSql), await pair.Source.ScalarAsync<string>(pair.SourceDb, sourceSql));
        }
        // Exactly once: each insert on either side is there once (the ledger has no key to refuse a second one).
        Assert.Equal(2L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM ledger WHERE who = 'source streamed'"));
        Assert.Equal(15L * 3, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM ledger WHERE who LIKE 'target %'"));
        // The excluded column: kept on the old rows, the default on rows made on the target.
        Assert.Equal("pw1", await pair.Source.ScalarAsync<string>(pair.SourceDb, "SELECT secret FROM accounts WHERE id = 1"));
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM accounts WHERE name LIKE 'target %' AND secret IS DISTINCT FROM 'hidden'"));
        // The identity and the ALWAYS trigger, set aside on the source while the way back ran, are as they were.
        Assert.Equal("a", await pair.Source.ScalarAsync<string>(pair.SourceDb, "SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'tagged'::regclass AND attname = 'id'"));
        Assert.Equal("A", await pair.Source.ScalarAsync<string>(pair.SourceDb, "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'tagged_stamp'"));
        Assert.Equal(15L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM tagged WHERE label ~ '^r[0-9]+!$'"));
        // The source's trigger did not fire for the applied inserts: the audit rows are the target's, brought back.
        Assert.Equal(0L, await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT count(*) FROM audit WHERE at LIKE 'pgshift%'"));
        Assert.Contains("verify: comparing", fallback.Stdout, StringComparison.Ordinal);
        Assert.Contains("large objects: 2 on the source, 2 on the target", fallback.Stdout, StringComparison.Ordinal);
        Assert.Equal("made on the target", await pair.Source.ScalarAsync<string>(pair.SourceDb, "SELECT convert_from(lo_get(4343), 'UTF8')"));
        Assert.Equal("A large object of the source", await pair.Source.ScalarAsync<string>(pair.SourceDb, "SELECT convert_from(lo_get(4242), 'UTF8')"));

        // Both directions' verify: the way back's (target against source) and the task's own (source against target).
        var verify = await PgShiftProcess.RunAsync(["verify", "--reverse", "--source", source, "--target", target, "--task", "round"]);
        Assert.True(verify.ExitCode == 0, verify.All);
        verify = await PgShiftProcess.RunAsync(["verify", "--source", source, "--target", target, "--task", "round"]);
        Assert.True(verify.ExitCode == 0, verify.All);

        // The source takes the application's writes again; the target is fenced.
        await pair.Source.ExecuteAsync(pair.SourceDb, "INSERT INTO accounts (name) VALUES ('back home')");
        var targetFenced = await Assert.ThrowsAsync<PostgresException>(() => pair.Target.ExecuteAsync(pair.TargetDb, "INSERT INTO ledger VALUES ('late', 0)"));
        Assert.Equal("25006", targetFenced.SqlState);

        var cleanup = await PgShiftProcess.RunAsync(["cleanup", "--source", source, "--target", target, "--task", "round"]);
        Assert.True(cleanup.ExitCode == 0, cleanup.All);
        Assert.Contains("Dropped the way back's replication slot pgshift_round and publication pgshift_round on the target", cleanup.Stdout, StringComparison.Ordinal);
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>("postgres", $"SELECT count(*) FROM pg_replication_slots WHERE database = '{pair.TargetDb}'"));
        await pair.Target.ExecuteAsync("postgres", $"ALTER DATABASE \"{pair.TargetDb}\" RESET default_transaction_read_only");
        File.Delete(file);
    }

    [Fact]
    public async Task The_precheck_of_the_way_back_refuses_a_target_that_cannot_be_a_source()
    {
        var sourceDb = await TestServer.Pg12.CreateDatabaseAsync("revwal");
        var targetDb = await TestServer.Pg15Replica.CreateDatabaseAsync("revwal");
        try
        {
            await TestServer.Pg12.ExecuteAsync(sourceDb, "CREATE TABLE t (id int PRIMARY KEY)");
            var precheck = await PgShiftProcess.RunAsync(["precheck", "--reverse", "--types", "schema,full", "--source", TestServer.Pg12.KeywordValue(sourceDb),
                "--target", TestServer.Pg15Replica.KeywordValue(targetDb), "--task", "revwal"]);
            Assert.True(precheck.ExitCode == 1, precheck.All);
            Assert.Matches("FAILED +way_back +The target has wal_level = replica; the way back streams from it and needs logical", precheck.Stdout);
            var without = await PgShiftProcess.RunAsync(["precheck", "--types", "schema,full", "--source", TestServer.Pg12.KeywordValue(sourceDb),
                "--target", TestServer.Pg15Replica.KeywordValue(targetDb), "--task", "revwal"]);
            Assert.True(without.ExitCode == 0, without.All);
        }
        finally
        {
            await TestServer.Pg12.DropDatabaseAsync(sourceDb);
            await TestServer.Pg15Replica.DropDatabaseAsync(targetDb);
        }
    }

    /// <summary>The application's writes on the target, one round: every kind of change, in small transactions.</summary>
    private async Task WriteOnTargetAsync(int round)
    {
        await pair.Target.ExecuteAsync(pair.TargetDb, $"""
            INSERT INTO accounts (name, amount, doc) VALUES ('target {round}', {round}, (SELECT string_agg(md5(i::text || '{round}'), '') FROM generate_series(1, 300) i));
            UPDATE accounts SET amount = amount + 1 WHERE id % 10 = {round};
            UPDATE accounts SET doc = (SELECT string_agg(md5(i::text || 'new {round}'), '') FROM generate_series(1, 250) i) WHERE id % 17 = {round};
            DELETE FROM accounts WHERE id = {100 + round};
            INSERT INTO log_events VALUES ({1000 + round}, 'target', NULL);
            UPDATE log_events SET payload = 'changed {round}' WHERE id % 9 = {round};
            DELETE FROM log_events WHERE id % 50 = {round};
            INSERT INTO ledger VALUES ('target {round}', 1), ('target {round}', 1), ('target {round}', 2);
            UPDATE scratch SET v = 'target {round}' WHERE id = {round + 1};
            UPDATE tagged SET label = 'r{round}' WHERE id = {round + 1};
            INSERT INTO tagged (label) VALUES ('new {round}');
            SELECT nextval('tickets');
            """);
    }
}
