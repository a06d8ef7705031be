using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>A whole server: --all-databases runs one task per database, side by side, and every command takes the same form.</summary>
public sealed class AllDatabasesTests(WholeServers servers) : IClassFixture<WholeServers>
{
    private const string Quoted = "Shop \"EU\" ü";
    private static readonly string[] Databases = ["shop", "billing", Quoted];

    private string[] Servers => ["--source", $"host={servers.Source.Host} port={servers.Source.Port} user=postgres",
        "--target", $"postgres://postgres@{servers.Target.Host}:{servers.Target.Port}"];

    private static string Ident(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [Fact]
    public async Task All_databases_migrate_side_by_side_with_writes_then_cut_over_verify_and_clean_up()
    {
        await servers.Source.ExecuteAsync("postgres", "CREATE ROLE shop_owner LOGIN");
        await servers.Target.ExecuteAsync("postgres", "CREATE ROLE shop_owner LOGIN");
        foreach (var db in Databases)
        {
            var owner = db == "shop" ? " OWNER shop_owner" : "";
            await servers.Source.ExecuteAsync("postgres", $"CREATE DATABASE {Ident(db)}{owner} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
            await servers.Source.ExecuteAsync(db, """
                CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, qty int);
                INSERT INTO items (name, qty) SELECT 'item ' || g, g FROM generate_series(1, 5000) g;
                """);
        }
        // billing exists on the target already (empty): it is used as it is; the other two are created.
        await servers.Target.ExecuteAsync("postgres", "CREATE DATABASE billing");

        await using var migrate = new PgShiftBackground(["migrate", "--all-databases", .. Servers, "--parallel-tasks", "2", "--jobs", "2"]);
        foreach (var db in Databases)
        {
            await migrate.WaitForAsync($"[{db}] stream: applying changes", TimeSpan.FromMinutes(3));
        }
        Assert.Contains("left out postgres: no table to migrate", migrate.Output, StringComparison.Ordinal);
        Assert.Contains($"created database {Ident(Quoted)} on the target", migrate.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("created database billing", migrate.Output, StringComparison.Ordinal);

        // Writes while the three tasks stream.
        foreach (var db in Databases)
        {
            await servers.Source.ExecuteAsync(db, """
                INSERT INTO items (name, qty) SELECT 'late ' || g, g FROM generate_series(1, 300) g;
                UPDATE items SET qty = -qty WHERE id % 7 = 0;
                DELETE FROM items WHERE id % 11 = 0;
                """);
        }

        var status = await PgShiftProcess.RunAsync(["status", "--all-databases", "--target", Servers[3]]);
        Assert.True(status.ExitCode == 0, status.All);
        foreach (var (db, task) in new[] { ("shop", "shop"), ("billing", "billing"), (Quoted, "shop__eu___") })
        {
            Assert.Contains($"[{db}] task     {task}", status.Stdout, StringComparison.Ordinal);
        }

        var cutover = await PgShiftProcess.RunAsync(["cutover", "--all-databases", .. Servers]);
        Assert.True(cutover.ExitCode == 0, cutover.All + migrate.Output);
        foreach (var db in Databases)
        {
            Assert.Contains($"[{db}] Verify: equal (1 table,", cutover.Stdout, StringComparison.Ordinal);
        }
        Assert.Contains("cutover: exit code 0 for all 3 databases.", cutover.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));

        foreach (var db in Databases)
        {
            Assert.Equal(await servers.Source.ScalarAsync<long>(db, "SELECT count(*) FROM items"), await servers.Target.ScalarAsync<long>(db, "SELECT count(*) FROM items"));
            Assert.Equal(await servers.Source.ScalarAsync<long>(db, "SELECT sum(qty) FROM items"), await servers.Target.ScalarAsync<long>(db, "SELECT sum(qty) FROM items"));
            // Each task's state lives in its own database.
            Assert.Equal("finished", await servers.Target.ScalarAsync<string>(db, "SELECT string_agg(phase, ',') FROM pgshift.tasks"));
        }
        Assert.Equal("shop_owner", await servers.Target.ScalarAsync<string>("postgres", "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'shop'"));
        Assert.Equal("UTF8 C", await servers.Target.ScalarAsync<string>("postgres", $"SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = '{Quoted.Replace("'", "''", StringComparison.Ordinal)}'"));
        Assert.Equal(0L, await servers.Target.ScalarAsync<long>("postgres", "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"));

        var verify = await PgShiftProcess.RunAsync(["verify", "--databases", $"shop,{Quoted}", .. Servers]);
        Assert.True(verify.ExitCode == 0, verify.All);
        Assert.Contains($"[{Quoted}] Verify: equal", verify.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("[billing]", verify.Stdout, StringComparison.Ordinal);

        var cleanup = await PgShiftProcess.RunAsync(["cleanup", "--all-databases", .. Servers]);
        Assert.True(cleanup.ExitCode == 0, cleanup.All);
        Assert.Equal(0L, await servers.Source.ScalarAsync<long>("postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgshift%'"));
    }

    [Fact]
    public async Task A_database_the_source_lacks_is_refused_naming_those_it_has()
    {
        var result = await PgShiftProcess.RunAsync(["migrate", "--databases", "nosuch", .. Servers]);
        Assert.True(result.ExitCode == 2, result.All);
        Assert.Contains("has no database nosuch that accepts connections (it has ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("fix: Check the names given to --databases", result.Stderr, StringComparison.Ordinal);

        var named = await PgShiftProcess.RunAsync(["migrate", "--all-databases", "--task", "one", .. Servers]);
        Assert.True(named.ExitCode == 2, named.All);
        Assert.Contains("A task name does not go with --all-databases", named.Stderr, StringComparison.Ordinal);

        var none = await PgShiftProcess.RunAsync(["migrate", "--all-databases", "--parallel-tasks", "0", .. Servers]);
        Assert.True(none.ExitCode == 2, none.All);
        Assert.Contains("--parallel-tasks '0' is not a number of tasks", none.Stderr, StringComparison.Ordinal);
    }
}
