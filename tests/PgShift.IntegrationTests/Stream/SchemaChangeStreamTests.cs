using Microsoft.Extensions.Logging.Abstractions;
using PgShift.Catalog;
using PgShift.Selection;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.IntegrationTests.Schema;
using PgShift.Precheck;
using PgShift.Replication;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// Schema changes on the source while the task streams: captured by the task's event triggers, applied at their place
/// in the stream with the task's names; after the cutover, rows and pg_dump --schema-only of both sides are equal.
/// </summary>
public abstract class SchemaChangeStreamTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private const string Schema = """
        CREATE TYPE status AS ENUM ('new', 'done');
        CREATE TABLE orders (id int PRIMARY KEY, note text, st status DEFAULT 'new', flag boolean);
        INSERT INTO orders SELECT g, 'n' || g, 'new', g % 2 = 0 FROM generate_series(1, 200) g;
        CREATE TABLE events (day date NOT NULL, id int NOT NULL, payload text, PRIMARY KEY (day, id)) PARTITION BY RANGE (day);
        CREATE TABLE events_d1 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');
        INSERT INTO events SELECT '2026-01-01', g, 'p' || g FROM generate_series(1, 50) g;
        CREATE TABLE keep (id int PRIMARY KEY, v int, gone text);
        INSERT INTO keep SELECT g, g, 'x' FROM generate_series(1, 20) g;
        CREATE TABLE standalone (day date NOT NULL, id int NOT NULL, payload text, PRIMARY KEY (day, id));
        INSERT INTO standalone VALUES ('2026-01-03', 1, 'attached later');
        """;

    /// <summary>Every supported kind of change, each with writes before and after it, in its own transaction and in others'.</summary>
    private static readonly string[] Changes =
    [
        "BEGIN; INSERT INTO orders VALUES (1001, 'before add'); ALTER TABLE orders ADD COLUMN qty int NOT NULL DEFAULT 1; INSERT INTO orders VALUES (1002, 'after add', 'done', true, 5); COMMIT;",
        "UPDATE orders SET qty = 3 WHERE id <= 10",
        "ALTER TABLE orders RENAME COLUMN note TO remark; UPDATE orders SET remark = 'renamed' WHERE id = 1;",
        "ALTER TABLE orders ALTER COLUMN qty TYPE bigint; INSERT INTO orders (id, remark, qty) VALUES (1003, 'bigint', 9000000000);",
        "ALTER TABLE orders ALTER COLUMN remark SET DEFAULT 'none'; INSERT INTO orders (id) VALUES (1004);",
        "UPDATE orders SET flag = false WHERE flag IS NULL; ALTER TABLE orders ALTER COLUMN flag SET NOT NULL;",
        "ALTER TABLE orders ALTER COLUMN flag DROP NOT NULL; INSERT INTO orders (id, flag) VALUES (1005, NULL);",
        "ALTER TABLE orders ALTER COLUMN remark DROP DEFAULT",
        "ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0)",
        "ALTER TABLE orders ADD CONSTRAINT remark_unique UNIQUE (id, remark)",
        "ALTER TABLE orders DROP CONSTRAINT remark_unique",
        "CREATE INDEX orders_remark ON orders (remark)",
        "CREATE INDEX CONCURRENTLY orders_qty ON orders (qty)",
        "DROP INDEX orders_remark",
        "ALTER TYPE status ADD VALUE 'blocked' BEFORE 'done'",
        "INSERT INTO orders (id, remark, st) VALUES (1006, 'blocked one', 'blocked')",
        "COMMENT ON TABLE orders IS 'the orders'; COMMENT ON COLUMN orders.qty IS 'how many';",
        "CREATE TABLE events_d2 PARTITION OF events FOR VALUES FROM ('2026-01-02') TO ('2026-01-03'); INSERT INTO events SELECT '2026-01-02', g, 'd2' FROM generate_series(1, 30) g;",
        "UPDATE events SET payload = 'moved' WHERE day = '2026-01-02' AND id <= 5",
        "ALTER TABLE events ATTACH PARTITION standalone FOR VALUES FROM ('2026-01-03') TO ('2026-01-04'); INSERT INTO events VALUES ('2026-01-03', 2, 'into attached');",
        "CREATE TABLE fresh (id serial PRIMARY KEY, v text); INSERT INTO fresh (v) SELECT 'v' || g FROM generate_series(1, 40) g;",
        "ALTER TABLE fresh ADD COLUMN w int; UPDATE fresh SET w = id * 2 WHERE id <= 20;",
        "CREATE TABLE short_lived AS SELECT g AS id FROM generate_series(1, 10) g",
        "INSERT INTO short_lived VALUES (11); DROP TABLE short_lived;",
        "ALTER TABLE keep RENAME TO kept; INSERT INTO kept VALUES (21, 21, 'y');",
        "ALTER TABLE kept ADD COLUMN v2 text DEFAULT 'two'; ALTER TABLE kept DROP COLUMN gone; UPDATE kept SET v2 = 'changed' WHERE id = 2;",
        // Values the target could not compute alike (evaluated at the ALTER): the table is copied again.
        "ALTER TABLE kept ADD COLUMN stamp timestamptz NOT NULL DEFAULT clock_timestamp(); INSERT INTO kept (id, v) VALUES (22, 22);",
        "ALTER TABLE kept ALTER COLUMN v TYPE text USING 'v' || v::text; UPDATE kept SET v2 = 'after using' WHERE id = 3;",
        "CREATE VIEW order_view AS SELECT id, remark FROM orders",
        "CREATE OR REPLACE VIEW order_view AS SELECT id, remark, qty FROM orders",
        "CREATE FUNCTION add_one(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1'",
        "CREATE SEQUENCE ticket_seq START 100; ALTER SEQUENCE ticket_seq INCREMENT BY 5;",
        "CREATE VIEW doomed AS SELECT 1 AS one; DROP VIEW doomed;",
        "CREATE OR REPLACE FUNCTION add_one(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1 + 0'",
        "CREATE FUNCTION passing(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1'; DROP FUNCTION passing(integer);",
        "CREATE SEQUENCE passing_seq; DROP SEQUENCE passing_seq;",
        "ALTER TABLE events DETACH PARTITION events_d1; INSERT INTO events_d1 VALUES ('2026-01-01', 1000, 'detached');",
        "CREATE TABLE cycle (id int PRIMARY KEY, v text)",
        "INSERT INTO cycle SELECT g, 'c' || g FROM generate_series(1, 30) g",
        "ALTER TABLE cycle ADD COLUMN w int; UPDATE cycle SET w = id;",
        "DROP TABLE cycle",
        "INSERT INTO orders (id, remark, qty) SELECT g, 'late', add_one(g) FROM generate_series(2000, 2100) g",
    ];

    private TaskSettings Options(string src, string tgt, string task) => StreamingRun.Options(source, src, target, tgt, task);

    [Fact]
    public async Task Each_supported_change_is_applied_in_place_and_both_sides_end_equal_in_rows_and_schema()
    {
        var src = await CreateAsync(source, "dsrc");
        var tgt = await CreateAsync(target, "dtgt");
        await source.ExecuteAsync(src, Schema);
        var task = "ddl_" + Run;
        var running = await StreamingRun.StartAsync(Options(src, tgt, task));
        foreach (var change in Changes)
        {
            await source.ExecuteAsync(src, change);
        }
        await CutOverAsync(tgt, task, running);
        await AssertSameAsync(src, tgt, ["orders", "events", "events_d1", "events_d2", "standalone", "kept", "fresh"]);
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_class WHERE relname IN ('short_lived', 'keep', 'doomed')"));
        Assert.Equal(2, await target.ScalarAsync<int>(tgt, "SELECT add_one(1)"));

        var dropped = await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
        Assert.Contains(dropped, d => d.StartsWith("event trigger", StringComparison.Ordinal));
        Assert.Empty(await SchemaCapture.ObjectsAsync(await source.OpenAsync(src), null, CancellationToken.None));
        Assert.Equal(0L, await source.ScalarAsync<long>(src, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"));
    }

    [Fact]
    public async Task A_renamed_schema_table_and_column_and_an_excluded_column_follow_the_changes_under_the_target_names()
    {
        var src = await CreateAsync(source, "msrc");
        var tgt = await CreateAsync(target, "mtgt");
        await source.ExecuteAsync(src, """
            CREATE SCHEMA shop;
            CREATE TABLE shop.items (id int PRIMARY KEY, name text, secret text, price numeric);
            INSERT INTO shop.items SELECT g, 'i' || g, 's' || g, g FROM generate_series(1, 100) g;
            """);
        var task = "map_" + Run;
        var mapping = new NameMapping();
        mapping.Schemas["shop"] = "store";
        mapping.Tables[new QualifiedName("shop", "items")] = "articles";
        mapping.Columns[new QualifiedName("shop", "items")] = new Dictionary<string, string> { ["name"] = "title" };
        var excluded = new ColumnExclusions();
        excluded.Add("shop.items.secret");
        var options = Options(src, tgt, task) with { Mapping = mapping, ExcludedColumns = excluded };
        var running = await StreamingRun.StartAsync(options);
        await source.ExecuteAsync(src, """
            BEGIN; INSERT INTO shop.items VALUES (101, 'before', 'x', 1);
            ALTER TABLE shop.items ADD COLUMN stock int DEFAULT 0;
            INSERT INTO shop.items VALUES (102, 'after', 'y', 2, 7); COMMIT;
            """);
        await source.ExecuteAsync(src, "ALTER TABLE shop.items ALTER COLUMN name SET NOT NULL; CREATE INDEX items_name ON shop.items (name, stock);");
        await source.ExecuteAsync(src, "UPDATE shop.items SET secret = 'changed', stock = 3 WHERE id <= 5");
        await source.ExecuteAsync(src, "CREATE TABLE shop.extra (id int PRIMARY KEY); INSERT INTO shop.extra VALUES (1), (2);");
        await CutOverAsync(tgt, task, running);
        Assert.Equal(await source.ScalarAsync<string>(src, "SELECT string_agg(id || ':' || name || ':' || price || ':' || stock, ',' ORDER BY id) FROM shop.items"),
            await target.ScalarAsync<string>(tgt, "SELECT string_agg(id || ':' || title || ':' || price || ':' || stock, ',' ORDER BY id) FROM store.articles"));
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'articles' AND column_name = 'secret'"));
        Assert.Equal("title", await target.ScalarAsync<string>(tgt, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indexrelid = 'store.items_name'::regclass"));
        Assert.Equal("NO", await target.ScalarAsync<string>(tgt, "SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'store' AND table_name = 'articles' AND column_name = 'title'"));
        Assert.Equal(2L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM store.extra"));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task An_unsupported_change_stops_the_task_naming_it_and_nothing_of_its_transaction_is_applied()
    {
        var src = await CreateAsync(source, "usrc");
        var tgt = await CreateAsync(target, "utgt");
        await source.ExecuteAsync(src, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1);");
        var task = "uns_" + Run;
        var running = await StreamingRun.StartAsync(Options(src, tgt, task));
        await source.ExecuteAsync(src, "INSERT INTO t VALUES (2, 2)");
        await source.ExecuteAsync(src, "BEGIN; INSERT INTO t VALUES (3, 3); CREATE DOMAIN positive AS int CHECK (VALUE > 0); COMMIT;");
        var ex = await Assert.ThrowsAsync<TaskFailedException>(() => running.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains("cannot be followed by the stream: CREATE DOMAIN", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--skip-schema-change", ex.Fix, StringComparison.Ordinal);
        // The row written in the change's own transaction is not on the target; the rows before it may wait for the resume.
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM t WHERE id = 3"));

        // Made by hand on the target, the change is skipped and the task goes on.
        await target.ExecuteAsync(tgt, "CREATE DOMAIN positive AS int CHECK (VALUE > 0)");
        var id = await source.ScalarAsync<long>(src, $"SELECT max(id) FROM pgshift.ddl_{task}");
        await source.ExecuteAsync(src, "INSERT INTO t VALUES (4, 4)");
        var resumed = await new MigrationTask(NullLogger.Instance).RunAsync(Options(src, tgt, task) with { SkipSchemaChanges = new HashSet<long> { id } }, cutover: true, CancellationToken.None);
        Assert.True(resumed.Finished);
        Assert.Equal(4L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM t"));

        // Until its cleanup, the task's capture is still on the source: the precheck of another task says so.
        var other = Options(src, tgt, "other_" + Run);
        var precheck = await SchemaPrecheck.Runner(other).RunAsync(new PrecheckOptions { Source = other.Source, Target = other.Target, TaskName = other.TaskName, ConnectTimeoutSeconds = 5 }, CancellationToken.None);
        var leftovers = Assert.Single(precheck.Checks, c => c.Id == "source.capture_leftovers");
        Assert.Equal(CheckStatus.Warning, leftovers.Status);
        Assert.Contains($"pgshift_{task}_ddl", leftovers.Message, StringComparison.Ordinal);
        Assert.Contains("pgshift cleanup", leftovers.Fix, StringComparison.Ordinal);
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task A_migrate_killed_right_after_a_schema_change_commits_applies_it_once_when_resumed()
    {
        var src = await CreateAsync(source, "ksrc");
        var tgt = await CreateAsync(target, "ktgt");
        await source.ExecuteAsync(src, "CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k SELECT g, 'v' || g FROM generate_series(1, 100) g;");
        var task = "kill_" + Run;
        string[] args = ["migrate", "--task", task, "--verbose", "--source", source.KeywordValue(src), "--target", target.KeywordValue(tgt)];

        // Killed (SIGKILL) as it applies a captured change, then as a new table joins the task.
        await KillAtAsync(args, "Streaming changes", () => source.ExecuteAsync(src, """
            BEGIN; INSERT INTO k VALUES (101, 'before'); ALTER TABLE k ADD COLUMN w int DEFAULT 5; INSERT INTO k VALUES (102, 'after', 7); COMMIT;
            """), "Applying schema change");
        await source.ExecuteAsync(src, "UPDATE k SET w = 9 WHERE id <= 10; ALTER TABLE k RENAME COLUMN v TO label;");
        await KillAtAsync(args, "Streaming changes", () => source.ExecuteAsync(src, """
            CREATE TABLE k2 (id int PRIMARY KEY, t text); INSERT INTO k2 SELECT g, 't' || g FROM generate_series(1, 500) g;
            """), "joined task");
        await source.ExecuteAsync(src, "INSERT INTO k2 VALUES (501, 'after the kill'); INSERT INTO k (id, label) VALUES (103, 'last');");

        var resumed = await new MigrationTask(NullLogger.Instance).RunAsync(Options(src, tgt, task), cutover: true, CancellationToken.None);
        Assert.True(resumed.Finished);
        await AssertSameAsync(src, tgt, ["k", "k2"]);
        Assert.Equal(501L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM k2"));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    /// <summary>Runs pgshift until it prints <paramref name="ready"/>, then <paramref name="act"/>s, and kills it with SIGKILL once it prints <paramref name="killAt"/>.</summary>
    private static async Task KillAtAsync(string[] args, string ready, Func<Task> act, string killAt)
    {
        await using var process = new PgShiftBackground(args);
        await process.WaitForAsync(ready, TimeSpan.FromMinutes(2));
        await act();
        await process.WaitForAsync(killAt, TimeSpan.FromMinutes(2));
        process.Kill();
        await process.WaitForExitAsync(TimeSpan.FromMinutes(1));
    }

    /// <summary>Requests the cutover of the running task (the request lives as long as the session that made it) and waits for it to finish.</summary>
    private async Task CutOverAsync(string tgt, string task, Task<MigrationResult> running)
    {
        await using var cutoverSession = await target.OpenAsync(tgt);
        await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
        Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);
    }

    private async Task AssertSameAsync(string src, string tgt, IEnumerable<string> tables)
    {
        await CopyFixture.AssertSameAsync(source, src, target, tgt, tables);
        if (target.Major <= 15)
        {
            await PgDumpSchema.AssertSameWithoutPgShiftAsync(source, src, target, tgt);
        }
        else
        {
            // Debian's pg_dump 15 cannot read 17: the catalog description, built from the catalog rows themselves.
            var diff = CatalogDescription.Differences(await CatalogDescription.TakeAsync(source, src), await CatalogDescription.TakeAsync(target, tgt));
            Assert.True(diff.Length == 0, "the target's catalog differs from the source's:\n" + diff);
        }
    }
}

public sealed class SchemaChangeStreamTests_15_to_17() : SchemaChangeStreamTestsBase(TestServer.Pg15, TestServer.Pg17);

public sealed class SchemaChangeStreamTests_12_to_15() : SchemaChangeStreamTestsBase(TestServer.Pg12, TestServer.Pg15);

public sealed class SchemaChangeStreamTests_12_to_17() : SchemaChangeStreamTestsBase(TestServer.Pg12, TestServer.Pg17);
