using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.IntegrationTests.Schema;
using PgShift.Replication;
using PgShift.State;
using PgShift.Stream;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// A partition manager at work while the task streams (Debian's pg_partman, on the ext15 pair of tests/servers/pg-servers.sh):
/// run_maintenance() creates the coming days' partitions, rows go into them, a table is created and filled, a column is
/// added. After the cutover every table has the source's rows and pg_dump --schema-only of both sides is the same.
/// </summary>
public sealed class PartitionManagerStreamTests : FreshDatabases
{
    private static readonly TestServer Source = TestServer.Ext15Source;
    private static readonly TestServer Target = TestServer.Ext15Target;

    [Fact]
    public async Task Partitions_made_by_pg_partman_mid_stream_arrive_with_their_rows_and_both_schemas_end_equal()
    {
        await Source.RequireExtensionsAsync("pg_partman");
        await Target.RequireExtensionsAsync("pg_partman");
        var src = await CreateAsync(Source, "pmsrc");
        var tgt = await CreateAsync(Target, "pmtgt");
        await Source.ExecuteAsync(src, """
            CREATE SCHEMA partman;
            CREATE EXTENSION pg_partman SCHEMA partman;
            CREATE TABLE public.measure (id bigserial, at timestamptz NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            SELECT partman.create_parent('public.measure', 'at', 'native', 'daily', p_premake := 2, p_start_partition := (now() - interval '1 day')::text);
            -- pg_partman's template table has no key: its (absent) updates would need the whole row.
            ALTER TABLE partman.template_public_measure REPLICA IDENTITY FULL;
            INSERT INTO measure (at, v) SELECT now() - interval '1 day' + g * interval '1 minute', 'm' || g FROM generate_series(1, 2000) g;
            """);
        var partitionsBefore = await Source.ScalarAsync<long>(src, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'measure'::regclass");
        var task = "partman_" + Run;
        var running = await StreamingRun.StartAsync(StreamingRun.Options(Source, src, Target, tgt, task));

        await Source.ExecuteAsync(src, """
            -- Ten days ahead from now on, as a deploy that raises premake would.
            UPDATE partman.part_config SET premake = 10, infinite_time_partitions = true WHERE parent_table = 'public.measure';
            SELECT partman.run_maintenance('public.measure');
            """);
        await Source.ExecuteAsync(src, """
            INSERT INTO measure (at, v) SELECT now() + interval '1 day' + g * interval '10 minutes', 'later ' || g FROM generate_series(1, 1000) g;
            CREATE TABLE newbie (id serial PRIMARY KEY, payload jsonb);
            INSERT INTO newbie (payload) SELECT jsonb_build_object('g', g) FROM generate_series(1, 2623) g;
            UPDATE measure SET v = v || '!' WHERE id % 7 = 0;
            ALTER TABLE newbie ADD COLUMN note text DEFAULT 'n';
            UPDATE newbie SET note = 'changed' WHERE id <= 10;
            DELETE FROM measure WHERE id % 11 = 0;
            """);
        var partitions = await Source.ScalarAsync<long>(src, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'measure'::regclass");
        Assert.True(partitions > partitionsBefore + 5, $"run_maintenance made {partitions - partitionsBefore} partitions");

        await using (var cutoverSession = await Target.OpenAsync(tgt))
        {
            await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
            Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);
        }
        var tables = await Source.ScalarAsync<string[]>(src, """
            SELECT array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname) ORDER BY 1) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname IN ('public', 'partman')
            """) ?? [];
        Assert.Contains("public.newbie", tables);
        await CopyFixture.AssertSameAsync(Source, src, Target, tgt, tables);
        Assert.Equal(await Source.ScalarAsync<long>(src, "SELECT count(*) FROM measure WHERE v LIKE 'later%'"),
            await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM measure WHERE v LIKE 'later%'"));

        await SlotCleanup.CleanupAsync(Source.Spec(src), task, CancellationToken.None);
        await PgDumpSchema.AssertSameWithoutPgShiftAsync(Source, src, Target, tgt);
    }
}
