using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>A renamed schema, table and columns: everything that hangs on them follows the new names.</summary>
public sealed class SchemaNameMappingTests
{
    [Fact]
    public async Task Renamed_schema_table_and_columns_carry_their_keys_indexes_checks_and_sequences()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        var customers = new QualifiedName("app", "customers");
        var (pre, post) = await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.Mapping.Schemas["app"] = "shop";
            o.Mapping.Tables[customers] = "clients";
            o.Mapping.Columns[customers] = new Dictionary<string, string> { ["id"] = "client_id", ["name"] = "full_name" };
        }));

        Assert.Empty(await dbs.TargetRowsAsync("SELECT nspname FROM pg_namespace WHERE nspname = 'app'"));
        Assert.Equal("shop.clients", Single(await dbs.TargetRowsAsync("SELECT to_regclass('shop.clients')::text")));
        Assert.Equal("<null>", Single(await dbs.TargetRowsAsync("SELECT to_regclass('shop.customers')::text")));
        var columns = await dbs.TargetRowsAsync("SELECT attname FROM pg_attribute WHERE attrelid = 'shop.clients'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
        Assert.Equal(["client_id", "full_name", "email", "region", "address", "sort_name", "handle", "extra", "created_at", "updated_at", "vip"], columns);

        // Keys and indexes, built after the data, are on the new table and columns.
        Assert.Equal(["customers_email_key UNIQUE (email)", "customers_id_region_key UNIQUE (client_id, region)", "customers_pkey PRIMARY KEY (client_id)"],
            await dbs.TargetRowsAsync("SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.clients'::regclass AND contype IN ('p', 'u') ORDER BY 1"));
        var check = Single(await dbs.TargetRowsAsync("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.clients'::regclass AND conname = 'customers_name_check'"));
        Assert.Contains("full_name", check, StringComparison.Ordinal);
        var lowerName = Single(await dbs.TargetRowsAsync("SELECT pg_get_indexdef('shop.customers_lower_name_idx'::regclass)"));
        Assert.Contains("ON shop.clients", lowerName, StringComparison.Ordinal);
        Assert.Contains("lower(full_name)", lowerName, StringComparison.Ordinal);

        // Foreign keys on other tables point at the renamed table and columns.
        Assert.Equal("orders_customer_id_region_fkey FOREIGN KEY (customer_id, region) REFERENCES shop.clients(client_id, region) ON UPDATE CASCADE",
            Single(await dbs.TargetRowsAsync("SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.orders'::regclass AND contype = 'f'")));

        // The serial's sequence moved with the schema, feeds the renamed column and is owned by it.
        Assert.Equal("nextval('shop.customers_id_seq'::regclass)",
            Single(await dbs.TargetRowsAsync("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'shop.clients'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'shop.clients'::regclass AND attname = 'client_id')")));
        Assert.Equal("client_id", Single(await dbs.TargetRowsAsync("""
            SELECT a.attname FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = 'shop.customers_id_seq'::regclass AND d.refobjid = 'shop.clients'::regclass AND d.deptype = 'a'
            """)));
        Assert.Equal("shop.default_region()",
            Single(await dbs.TargetRowsAsync("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'shop.clients'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'shop.clients'::regclass AND attname = 'region')")));
        // Its position was carried over too (2 rows on the source).
        Assert.Equal("2", Single(await dbs.TargetRowsAsync("SELECT last_value FROM shop.customers_id_seq")));

        // Views are stored as parse trees and follow the renames; the materialized view reads the renamed table.
        Assert.Contains("shop.clients", await dbs.TargetRowsAsync("""
            SELECT DISTINCT d.refobjid::regclass::text FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
             WHERE w.ev_class = 'shop.customer_totals'::regclass AND d.refclassid = 'pg_class'::regclass
            """));
        // Refreshed after post-data, so it can be read (empty: no rows were copied).
        Assert.Equal("0", Single(await dbs.TargetRowsAsync("SELECT count(*) FROM shop.customer_totals")));

        // Function bodies are text: those naming a renamed object are reported, not silently left broken.
        var warnings = string.Join("\n", pre.Warnings.Concat(post.Warnings));
        Assert.Contains("customers_named", warnings, StringComparison.Ordinal);
        Assert.Contains("order_count", warnings, StringComparison.Ordinal);
    }

    private static string Single(List<string> rows)
    {
        Assert.True(rows.Count == 1, $"expected one row, got {rows.Count}: {string.Join(", ", rows)}");
        return rows[0];
    }
}
