using PgShift.IntegrationTests.Infrastructure;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Schema;

/// <summary>Include and exclude lists and excluded columns decide what exists on the target.</summary>
public sealed class SchemaSelectionTests
{
    private const string UserTables = """
        SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
         ORDER BY 1
        """;

    private const string UserRelations = """
        SELECT c.relkind::text || ' ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift', 'pg_toast')
         ORDER BY 1
        """;

    private static string Columns(string schema, string table) => $"""
        SELECT attname FROM pg_attribute
         WHERE attrelid = to_regclass({PgShift.Catalog.Sql.Literal(PgShift.Catalog.Sql.Qualified(schema, table))}) AND attnum > 0 AND NOT attisdropped
         ORDER BY attnum
        """;

    [Fact]
    public async Task Included_schema_is_the_only_one_whose_relations_are_created()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        await MigrationDatabases.MigrateAsync(dbs.Options(o => o.Selection.IncludeSchemas.Add(new NamePattern("Sales Dept"))));

        var expected = (await dbs.SourceRowsAsync(UserRelations)).Where(r => r.Contains(" \"Sales Dept\".", StringComparison.Ordinal)).ToList();
        Assert.Equal(["S \"Sales Dept\".\"Order Items_Item ID_seq\"", "r \"Sales Dept\".\"Order Items\"", "r \"Sales Dept\".\"line.items\"", "v \"Sales Dept\".\"Priced Items\""],
            expected.Order(StringComparer.Ordinal));
        Assert.Equal(expected.Order(StringComparer.Ordinal), (await dbs.TargetRowsAsync(UserRelations)).Order(StringComparer.Ordinal));
        Assert.Empty(await dbs.TargetRowsAsync("SELECT nspname FROM pg_namespace WHERE nspname IN ('app', 'select', 'order', 'données')"));
    }

    [Fact]
    public async Task Excluded_schema_is_absent_and_the_other_schemas_are_complete()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        await MigrationDatabases.MigrateAsync(dbs.Options(o => o.Selection.ExcludeSchemas.Add(new NamePattern("app"))));

        Assert.Empty(await dbs.TargetRowsAsync("SELECT nspname FROM pg_namespace WHERE nspname = 'app'"));
        var expected = (await dbs.SourceRowsAsync(UserRelations)).Where(r => !r[2..].StartsWith("app.", StringComparison.Ordinal)).ToList();
        Assert.Contains("r \"select\".\"order\"", expected);
        Assert.Equal(expected, await dbs.TargetRowsAsync(UserRelations));
    }

    [Fact]
    public async Task Excluded_table_is_absent_and_views_on_it_are_skipped_with_a_reason()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(o => o.Selection.ExcludeTables.Add(new NamePattern("app.order_lines"))));

        var target = await dbs.TargetRowsAsync(UserRelations);
        Assert.DoesNotContain("r app.order_lines", target);
        Assert.Contains("r app.orders", target);
        Assert.Contains("v app.open_orders_eu", target);
        // big_lines selects from order_lines, and huge_lines from big_lines.
        Assert.DoesNotContain("v app.big_lines", target);
        Assert.DoesNotContain("v app.huge_lines", target);
        Assert.Contains(pre.Skipped, s => s.Object.Contains("big_lines", StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object.Contains("huge_lines", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Included_tables_are_the_only_tables_created()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.Selection.IncludeTables.Add(new NamePattern("app.customers"));
            o.Selection.IncludeTables.Add(new NamePattern("select.order"));
        }));

        Assert.Equal(["\"select\".\"order\"", "app.customers"], (await dbs.TargetRowsAsync(UserTables)).Order(StringComparer.Ordinal));
        // Its keys come with it.
        Assert.Equal(["customers_email_key", "customers_id_region_key", "customers_pkey"],
            await dbs.TargetRowsAsync("SELECT conname FROM pg_constraint WHERE conrelid = 'app.customers'::regclass AND contype IN ('p', 'u') ORDER BY 1"));
    }

    [Fact]
    public async Task Excluded_columns_are_not_created_and_the_rest_of_the_table_is()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.ExcludedColumns.Add("app.customers.extra");
            o.ExcludedColumns.Add("\"Sales Dept\".\"Order Items\".\"quote\"\"d\"");
        }));

        var customers = await dbs.SourceRowsAsync(Columns("app", "customers"));
        Assert.Contains("extra", customers);
        Assert.Equal(customers.Where(c => c != "extra"), await dbs.TargetRowsAsync(Columns("app", "customers")));
        var items = await dbs.SourceRowsAsync(Columns("Sales Dept", "Order Items"));
        Assert.Contains("quote\"d", items);
        Assert.Equal(items.Where(c => c != "quote\"d"), await dbs.TargetRowsAsync(Columns("Sales Dept", "Order Items")));
        Assert.Equal(["customers_email_key", "customers_id_region_key", "customers_pkey"],
            await dbs.TargetRowsAsync("SELECT conname FROM pg_constraint WHERE conrelid = 'app.customers'::regclass AND contype IN ('p', 'u') ORDER BY 1"));
    }

    [Fact]
    public async Task A_table_that_uses_a_collation_or_type_of_an_excluded_schema_is_skipped_with_a_reason()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA shared;
            CREATE COLLATION shared.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TYPE shared.mood AS ENUM ('ok', 'sad');
            CREATE SCHEMA app;
            CREATE TABLE app.people (id int PRIMARY KEY, handle text COLLATE shared.ci);
            CREATE TABLE app.moods (id int PRIMARY KEY, mood shared.mood[]);
            CREATE TABLE app.plain (id int PRIMARY KEY);
            """);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(o => o.Selection.ExcludeSchemas.Add(new NamePattern("shared"))));

        Assert.Equal(["app.plain"], await dbs.TargetRowsAsync(UserTables));
        var skipped = pre.Skipped.ToDictionary(s => s.Object, s => s.Reason);
        Assert.Equal("depends on collation shared.ci, whose schema is not selected", skipped["table \"app\".\"people\""]);
        Assert.Equal("depends on type shared.mood[], whose schema is not selected", skipped["table \"app\".\"moods\""]);
        Assert.Contains(pre.Warnings, w => w.StartsWith("table \"app\".\"people\" is left out", StringComparison.Ordinal));
    }
}
