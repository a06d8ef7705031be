using Npgsql;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Stream;

/// <summary>The tables a change-stream test writes to, and the writes: every kind of change the stream must carry.</summary>
public static class StreamFixture
{
    public static readonly string[] Tables =
    [
        "public.items", "public.dup", "public.parted_a", "public.parted_b", "public.parted_def", "public.parent", "public.child",
        "public.keyed", "\"Odd Schema\".\"Mixed Case\"",
    ];

    public const string Schema = """
        CREATE TABLE items (id bigserial PRIMARY KEY, name text, qty int, doc jsonb, big text, tags text[], at timestamptz DEFAULT now());
        INSERT INTO items (name, qty, doc, big, tags) SELECT 'item ' || g, g, jsonb_build_object('g', g), repeat(md5(g::text), 3000), ARRAY['a', 'b']
          FROM generate_series(1, 200) g;
        CREATE TABLE dup (v text, n int, j json, p point);
        ALTER TABLE dup REPLICA IDENTITY FULL;
        INSERT INTO dup VALUES ('same', 1, '{"a": 1}', '(1,2)'), ('same', 1, '{"a": 1}', '(1,2)'), ('other', 2, NULL, NULL);
        CREATE TABLE parted (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
        CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
        CREATE TABLE parted_def PARTITION OF parted DEFAULT;
        INSERT INTO parted SELECT g, date '2020-01-01' + g * 3, 'v' || g FROM generate_series(1, 300) g;
        CREATE TABLE parent (id int PRIMARY KEY, label text);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id));
        INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 50) g;
        INSERT INTO child SELECT g, 1 + g % 50 FROM generate_series(1, 100) g;
        CREATE TABLE keyed (k int PRIMARY KEY, v text);
        INSERT INTO keyed SELECT g, 'k' || g FROM generate_series(1, 100) g;
        CREATE SCHEMA "Odd Schema";
        CREATE TABLE "Odd Schema"."Mixed Case" ("Key" int PRIMARY KEY, "select" text, "Ünï" numeric);
        INSERT INTO "Odd Schema"."Mixed Case" SELECT g, 's' || g, g / 7.0 FROM generate_series(1, 20) g;
        CREATE SEQUENCE counter;
        SELECT nextval('counter');
        """;

    /// <summary>Writes of every kind, in separate transactions, some interleaved and one rolled back.</summary>
    public static async Task WriteAsync(TestServer server, string database, int round)
    {
        await server.ExecuteAsync(database, $"""
            INSERT INTO items (name, qty, doc, big, tags) SELECT 'new {round} ' || g, g, jsonb_build_object('r', {round}), repeat(md5((g + {round})::text), 2500), ARRAY['x', NULL]
              FROM generate_series(1, 50) g;
            UPDATE items SET qty = qty + 1 WHERE id % 7 = {round % 7};
            UPDATE items SET big = 'small now {round}' WHERE id % 11 = {round % 11};
            DELETE FROM items WHERE id % 13 = {round % 13} AND id < 150;
            UPDATE keyed SET k = k + 100000 WHERE k = {round};
            UPDATE dup SET n = n + 10 WHERE ctid = (SELECT ctid FROM dup WHERE v = 'same' ORDER BY n LIMIT 1);
            INSERT INTO dup VALUES ('same', {round}, json_build_object('r', {round}), point({round}, 1));
            DELETE FROM dup WHERE ctid = (SELECT ctid FROM dup WHERE v = 'other' LIMIT 1);
            INSERT INTO dup VALUES ('other', 2, NULL, NULL);
            INSERT INTO parted VALUES ({1000 + round}, '2020-06-01', 'a'), ({2000 + round}, '2021-06-01', 'b'), ({3000 + round}, '1999-01-01', 'default');
            UPDATE parted SET at = '2021-03-03' WHERE id = {10 + round};
            UPDATE "Odd Schema"."Mixed Case" SET "select" = 'changed {round}', "Ünï" = "Ünï" * 2 WHERE "Key" = {1 + round % 20};
            SELECT nextval('counter');
            """);
        await server.ExecuteAsync(database, $"BEGIN; INSERT INTO items (name) VALUES ('rolled back {round}'); UPDATE keyed SET v = 'never'; ROLLBACK;");

        // Interleaved transactions: the second commits first.
        await using var a = await server.OpenAsync(database);
        await using var b = await server.OpenAsync(database);
        await Exec(a, $"BEGIN; INSERT INTO parent VALUES ({100 + round}, 'interleaved a')");
        await Exec(b, $"BEGIN; INSERT INTO parent VALUES ({200 + round}, 'interleaved b')");
        await Exec(a, $"UPDATE parent SET label = 'a touched' WHERE id = 1");
        await Exec(b, "COMMIT");
        await Exec(a, $"INSERT INTO child VALUES ({1000 + round}, {200 + round}); COMMIT");
    }

    /// <summary>TRUNCATE of tables bound by a foreign key, together, then new rows; and a big transaction.</summary>
    public static Task TruncateAndBulkAsync(TestServer server, string database) => server.ExecuteAsync(database, """
        TRUNCATE child, parent;
        INSERT INTO parent SELECT g, 'after truncate' FROM generate_series(1, 30) g;
        INSERT INTO child SELECT g, g FROM generate_series(1, 30) g;
        TRUNCATE keyed;
        INSERT INTO keyed SELECT g, 'bulk' FROM generate_series(1, 20000) g;
        """);

    private static async Task Exec(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    public static Task AssertSameAsync(TestServer source, string sourceDb, TestServer target, string targetDb)
        => CopyFixture.AssertSameAsync(source, sourceDb, target, targetDb, Tables);
}
