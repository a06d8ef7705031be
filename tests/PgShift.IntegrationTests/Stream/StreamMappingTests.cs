using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// The change stream into renamed objects (a schema, a table, columns) with an excluded column, and into a table of
/// more than 64 columns: every change lands in the renamed place, the excluded column stays empty on the target.
/// </summary>
public sealed class StreamMappingTests : FreshDatabases
{
    [Fact]
    public async Task Changes_follow_renamed_schemas_tables_and_columns_and_leave_excluded_columns_out()
    {
        var source = TestServer.Pg12;
        var target = TestServer.Pg17;
        var src = await CreateAsync(source, "mapsrc");
        var tgt = await CreateAsync(target, "maptgt");
        var wide = string.Join(", ", Enumerable.Range(1, 70).Select(i => $"c{i} int"));
        await source.ExecuteAsync(src, $"""
            CREATE SCHEMA sales;
            CREATE TABLE sales.orders (id int PRIMARY KEY, "Customer" text, secret text, total numeric(12,2), big text);
            INSERT INTO sales.orders SELECT g, 'c' || g, 'pw' || g, g * 1.5, repeat(md5(g::text), 100) FROM generate_series(1, 200) g;
            CREATE TABLE public.wide (id int PRIMARY KEY, {wide});
            INSERT INTO public.wide (id, c1, c70) SELECT g, g, -g FROM generate_series(1, 50) g;
            """);
        var mapping = new NameMapping();
        mapping.Schemas["sales"] = "shop";
        mapping.Tables[new QualifiedName("sales", "orders")] = "Orders 2";
        mapping.Columns[new QualifiedName("sales", "orders")] = new Dictionary<string, string> { ["Customer"] = "customer_name", ["total"] = "amount" };
        var excluded = new ColumnExclusions();
        excluded.Add("sales.orders.secret");
        var task = "map_" + Run;
        var defaults = StreamingRun.Options(source, src, target, tgt, task);
        var options = new TaskSettings
        {
            Source = defaults.Source, Target = defaults.Target, TaskName = task, Jobs = defaults.Jobs, RetryWindow = defaults.RetryWindow,
            Mapping = mapping, ExcludedColumns = excluded,
        };
        var running = await StreamingRun.StartAsync(options);

        await source.ExecuteAsync(src, """
            BEGIN;
            INSERT INTO sales.orders SELECT g, 'new' || g, 'pw', g, NULL FROM generate_series(201, 400) g;
            UPDATE sales.orders SET total = total + 1 WHERE id % 3 = 0;            -- big stays as it was
            UPDATE sales.orders SET "Customer" = NULL, secret = 'changed' WHERE id % 5 = 0;
            UPDATE sales.orders SET id = id + 1000 WHERE id % 7 = 0;               -- key changes, one statement each
            DELETE FROM sales.orders WHERE id % 11 = 0;
            UPDATE public.wide SET c35 = id, c70 = c70 * 2 WHERE id % 2 = 0;
            INSERT INTO public.wide (id, c64, c65, c66) SELECT g, g, g, g FROM generate_series(51, 80) g;
            DELETE FROM public.wide WHERE id % 9 = 0;
            UPDATE public.wide SET id = id + 100 WHERE id = 1;
            COMMIT;
            """);
        for (var i = 0; i < 20; i++)
        {
            await source.ExecuteAsync(src, $"UPDATE sales.orders SET total = total * 2 WHERE id = {i + 2}; UPDATE public.wide SET c64 = {i} WHERE id = {i + 2};");
        }
        // A cutover request lives as long as the session that made it (a waiting 'pgshift cutover' holds it open).
        await using var cutoverSession = await target.OpenAsync(tgt);
        await TaskRequests.RequestCutoverAsync(cutoverSession, task, CancellationToken.None);
        Assert.True((await running.WaitAsync(TimeSpan.FromMinutes(3))).Finished);

        const string ordersOnSource = """SELECT string_agg(format('%s|%s|%s|%s', id, "Customer", total, md5(coalesce(big, ''))), ',' ORDER BY id) FROM sales.orders""";
        const string ordersOnTarget = """SELECT string_agg(format('%s|%s|%s|%s', id, customer_name, amount, md5(coalesce(big, ''))), ',' ORDER BY id) FROM shop."Orders 2" """;
        Assert.Equal(await source.ScalarAsync<string>(src, ordersOnSource), await target.ScalarAsync<string>(tgt, ordersOnTarget));
        Assert.Equal(0L, await target.ScalarAsync<long>(tgt, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'shop' AND column_name = 'secret'"));
        const string wideRows = "SELECT md5(string_agg(w::text, ',' ORDER BY id)) FROM public.wide w";
        Assert.Equal(await source.ScalarAsync<string>(src, wideRows), await target.ScalarAsync<string>(tgt, wideRows));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}
