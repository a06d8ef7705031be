using Microsoft.Extensions.Logging;
using PgShift.Cutover;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Stream;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// The applier folds each row's changes into set statements: many changes to the same rows in one source
/// transaction and across many (inserted, updated again and again, deleted, inserted again, keys changed, TOASTed
/// values left unchanged), hot rows, composite keys of odd text, a table without a key, and a unique column whose
/// values are swapped (which set statements cannot apply in any order: the transactions are replayed one change at
/// a time). After each, every row is compared.
/// </summary>
public abstract class StreamFoldingTestsBase(TestServer source, TestServer target) : FreshDatabases
{
    private static readonly string[] Tables = ["f_key", "f_multi", "f_uniq", "f_full", "f_hot", "f_parted", "f_types"];

    private const string Schema = """"
        CREATE TABLE f_key (id int PRIMARY KEY, v text, n numeric, big text, arr int[], j jsonb);
        CREATE TABLE f_multi (a text, b int, v text, PRIMARY KEY (a, b));
        CREATE TABLE f_uniq (id int PRIMARY KEY, email text NOT NULL UNIQUE);
        CREATE TABLE f_full (v text, n int, j json);
        ALTER TABLE f_full REPLICA IDENTITY FULL;
        CREATE TABLE f_hot (id int PRIMARY KEY, total bigint NOT NULL);
        CREATE TABLE f_parted (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE f_parted_a PARTITION OF f_parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
        CREATE TABLE f_parted_b PARTITION OF f_parted FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
        CREATE TYPE f_mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN f_posint AS int CHECK (VALUE > 0);
        CREATE TYPE f_pair AS (a int, b text);
        CREATE TABLE f_types (id int PRIMARY KEY, b bit(5), vb varbit, c char(5), vc varchar(8), num numeric(10,2), iv interval,
            ts timestamptz, tsn timestamp, d date, tm time, tmz timetz, mood f_mood, pos f_posint, pair f_pair, rng int4range,
            by bytea, x xml, js json, jb jsonb, u uuid, ip inet, net cidr, mac macaddr, tv tsvector, pt point, bx box,
            arr_c char(3)[], arr_b bit(2)[], f4 real, f8 double precision, bo boolean, "char" "char", txt text, "Odd ""col""" text);
        INSERT INTO f_key SELECT g, 'v' || g, g * 1.5, repeat(md5(g::text), 200), ARRAY[g, NULL, g + 1], jsonb_build_object('g', g)
        FROM generate_series(1, 500) g;
        INSERT INTO f_hot SELECT g, 0 FROM generate_series(1, 10) g;
        INSERT INTO f_uniq VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x');
        INSERT INTO f_parted SELECT g, date '2020-03-01' + g, 'p' || g FROM generate_series(1, 50) g;
        """";

    /// <summary>One source transaction that changes the same rows many times over.</summary>
    private const string BigTransaction = """"
        BEGIN;
        INSERT INTO f_key SELECT g, 'new' || g, g, repeat(md5((g * 7)::text), 150), '{}', '{"a": [1, 2]}' FROM generate_series(501, 3000) g;
        UPDATE f_key SET v = v || 'x' WHERE id % 2 = 0;
        UPDATE f_key SET n = n + 1 WHERE id % 2 = 0;                 -- big stays as it was (unchanged TOAST)
        UPDATE f_key SET big = repeat('z', 3000 + id) WHERE id % 7 = 0;
        UPDATE f_key SET n = n * 2 WHERE id % 7 = 0;
        DELETE FROM f_key WHERE id % 3 = 0;
        INSERT INTO f_key SELECT g, 'again' || g, -g, NULL, NULL, NULL FROM generate_series(3, 1500, 3) g;
        UPDATE f_key SET v = NULL WHERE id % 5 = 0 AND id % 3 = 0;
        UPDATE f_key SET id = id + 100000 WHERE id % 11 = 0;          -- key changes
        UPDATE f_key SET n = n + 1 WHERE id > 100000;
        DELETE FROM f_key WHERE id > 100000 AND id % 13 = 0;
        INSERT INTO f_key SELECT g, 'reused key', 0, NULL, NULL, NULL FROM generate_series(11, 2200, 11) g;
        INSERT INTO f_multi SELECT a, b, a || b FROM unnest(ARRAY['', 'a,b', 'quote"s', E'back\\slash', 'ünï', E'tab\there', 'NULL', '(1,2)']) a,
                                                  generate_series(1, 3) b;
        UPDATE f_multi SET v = v || '!' WHERE b = 2;
        DELETE FROM f_multi WHERE b = 3 AND a IN ('', 'NULL');
        INSERT INTO f_multi VALUES ('', 3, 'back again');
        UPDATE f_multi SET b = 9 WHERE a = 'ünï' AND b = 1;
        DO $$ BEGIN FOR i IN 1..3000 LOOP UPDATE f_hot SET total = total + i WHERE id = i % 10 + 1; END LOOP; END $$;
        INSERT INTO f_full SELECT 'same', 1, '{"x": 1}' FROM generate_series(1, 30);
        INSERT INTO f_full SELECT 'row' || g, g, NULL FROM generate_series(1, 30) g;
        DELETE FROM f_full WHERE ctid = (SELECT ctid FROM f_full WHERE v = 'same' LIMIT 1);
        UPDATE f_full SET n = 2 WHERE ctid = (SELECT ctid FROM f_full WHERE v = 'same' LIMIT 1);
        INSERT INTO f_full SELECT 'after', g, '[]' FROM generate_series(1, 10) g;
        INSERT INTO f_types SELECT g, (g % 32)::bit(5), (g % 7)::bit(3)::varbit, 'c' || g, 'vc' || g, g * 1.25, g * interval '1 day 3 ms',
            timestamptz '2024-02-29 12:00:00.123456+05:30' + g * interval '1 hour', timestamp '1999-12-31 23:59:59', date '2000-01-01' + g,
            time '12:34:56.789', timetz '01:02:03+04', (ARRAY['sad', 'ok', 'happy'])[g % 3 + 1]::f_mood, g, ROW(g, E'q"u\\o,te')::f_pair,
            int4range(g, g + 10), decode('00ff' || lpad(to_hex(g), 4, '0'), 'hex'), ('<a n="' || g || '">t&amp;</a>')::xml, '{"k": [1, "two"]}',
            jsonb_build_object('g', g, 's', E'line\nbreak'), md5(g::text)::uuid, ('10.0.0.' || g)::inet, '10.1.0.0/16', '08:00:2b:01:02:03',
            to_tsvector('simple', 'fat cats ' || g), point(g, -g), box(point(0, 0), point(g, g)), ARRAY['ab', 'c'], ARRAY[B'10', B'01'],
            CASE g % 4 WHEN 0 THEN 'NaN' WHEN 1 THEN '-0' WHEN 2 THEN 'Infinity' ELSE '1.17549435e-38' END::real,
            CASE g % 3 WHEN 0 THEN '-Infinity' WHEN 1 THEN '2.2250738585072014e-308' ELSE '0.1' END::float8,
            g % 2 = 0, 'x', E'tab\tquote''s back\\slash', NULL
        FROM generate_series(1, 40) g;
        UPDATE f_types SET b = B'11111', c = 'zz', txt = txt || ' updated', "Odd ""col""" = 'odd' WHERE id % 2 = 0;
        UPDATE f_types SET ts = 'infinity', d = '-infinity', num = NULL, arr_c = '{}', pair = NULL WHERE id % 5 = 0;
        DELETE FROM f_types WHERE id % 9 = 0;
        UPDATE f_parted SET at = at + 365 WHERE id % 4 = 0;           -- moves rows between partitions
        UPDATE f_parted SET v = v || '+' WHERE id % 2 = 0;
        DELETE FROM f_parted WHERE id % 5 = 0;
        INSERT INTO f_parted SELECT g, date '2021-06-01', 'late' FROM generate_series(5, 50, 5) g;
        COMMIT;
        """";

    private MigrationOptions Options(string src, string tgt, string task) => new()
    {
        Source = source.Spec(src),
        Target = target.Spec(tgt),
        TaskName = task,
        Jobs = 2,
        RetryWindow = TimeSpan.FromSeconds(30),
    };

    private async Task AssertSameAsync(string src, string tgt)
    {
        var s = await CopyFixture.ChecksumsAsync(source, src, Tables);
        var t = await CopyFixture.ChecksumsAsync(target, tgt, Tables);
        var differing = s.Where(e => t[e.Key] != e.Value).Select(e => $"{e.Key}: source {e.Value}, target {t[e.Key]}").ToList();
        Assert.True(differing.Count == 0, "tables differ:\n" + string.Join("\n", differing));
    }

    [Fact]
    public async Task Folded_changes_to_the_same_rows_apply_to_the_same_result_and_a_unique_swap_is_replayed_in_order()
    {
        var src = await CreateAsync(source, "fsrc");
        var tgt = await CreateAsync(target, "ftgt");
        await source.ExecuteAsync(src, Schema);
        var task = "fold_" + Run;
        var log = new ListLogger();
        var running = await StreamingRun.StartAsync(Options(src, tgt, task), logger: log);

        await source.ExecuteAsync(src, BigTransaction);
        // Many small transactions touching the same rows, then a swap of unique values that no set statement can apply.
        for (var i = 0; i < 60; i++)
        {
            await source.ExecuteAsync(src, $"""
                UPDATE f_hot SET total = total - {i} WHERE id = {i % 10 + 1};
                INSERT INTO f_key VALUES ({200000 + i}, 'small', {i}, NULL, ARRAY[{i}], NULL);
                UPDATE f_key SET v = 'small again' WHERE id = {200000 + i - (i % 2)};
                DELETE FROM f_key WHERE id = {1000 + i * 3 + 1};
                """);
        }
        await source.ExecuteAsync(src, """
            BEGIN;
            UPDATE f_uniq SET email = 'tmp' WHERE id = 1;
            UPDATE f_uniq SET email = 'a@x' WHERE id = 2;
            UPDATE f_uniq SET email = 'b@x' WHERE id = 1;
            UPDATE f_hot SET total = 0 WHERE id = 1;
            COMMIT;
            """);
        await source.ExecuteAsync(src, "UPDATE f_uniq SET email = 'c2@x' WHERE id = 3; INSERT INTO f_uniq VALUES (4, 'c@x');");
        await source.ExecuteAsync(src, "UPDATE f_types SET b = B'00001', vb = B'1', c = 'abc', arr_b = ARRAY[B'11'], mood = 'happy' WHERE id % 3 = 1;");

        await using (var t = await target.OpenAsync(tgt))
        {
            await TaskControl.RequestAsync(t, task, "cutover_requested", CancellationToken.None);
        }
        var result = await running.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(result.Finished);
        await AssertSameAsync(src, tgt);
        Assert.Equal(await source.ScalarAsync<long>(src, "SELECT sum(length(big)) FROM f_key"), await target.ScalarAsync<long>(tgt, "SELECT sum(length(big)) FROM f_key"));
        // The swap could not be applied as a set: the applier said so and replayed it change by change.
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("f_uniq", StringComparison.Ordinal)
            && e.Message.Contains("replaying them one by one", StringComparison.Ordinal));
        await TaskControl.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }

    [Fact]
    public async Task With_folding_off_every_change_is_one_statement_and_the_result_is_the_same()
    {
        var src = await CreateAsync(source, "fsrc");
        var tgt = await CreateAsync(target, "ftgt");
        await source.ExecuteAsync(src, Schema);
        var task = "nofold_" + Run;
        var options = Options(src, tgt, task);
        var running = await StreamingRun.StartAsync(new MigrationOptions
        {
            Source = options.Source, Target = options.Target, TaskName = task, Jobs = 2, RetryWindow = options.RetryWindow,
            Apply = new ApplyOptions { FoldRows = 0 },
        });
        await source.ExecuteAsync(src, BigTransaction);
        await using (var t = await target.OpenAsync(tgt))
        {
            await TaskControl.RequestAsync(t, task, "cutover_requested", CancellationToken.None);
        }
        Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);
        await AssertSameAsync(src, tgt);
        await TaskControl.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}

public sealed class StreamFoldingTests_12_to_17() : StreamFoldingTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class StreamFoldingTests_15_to_17() : StreamFoldingTestsBase(TestServer.Pg15, TestServer.Pg17);
