using Npgsql;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// The whole rich fixture, migrated (pre-data, then post-data) and compared with its source: with
/// pg_dump where Debian's pg_dump 15 can read both servers, and with the catalog description where the
/// target is PostgreSQL 17, which that pg_dump cannot dump; and with its rows, migrated by pgshift migrate, from
/// PostgreSQL 12 (whose ICU collations are written differently from 15 on) to 15 and 17.
/// </summary>
public sealed class SchemaFidelityTests
{
    [Fact]
    public async Task Schema_12_to_15_matches_pg_dump()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg12, TestServer.Pg15);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.True(pre.Skipped.Count == 0, "nothing in the fixture is skipped by design; skipped: " + string.Join("; ", pre.Skipped));
        var source = await PgDumpSchema.TakeAsync(dbs.Source, dbs.SourceDb);
        var target = await PgDumpSchema.TakeAsync(dbs.Target, dbs.TargetDb);
        var diff = LineDiff.Describe(source, target, "source dump", "target dump", max: 40);
        Assert.True(diff.Length == 0, "pg_dump --schema-only of the target differs from the source's:\n" + diff);

        // What pg_dump --schema-only leaves out: sequence positions and whether materialized views hold data.
        await AssertSameCatalogAsync(dbs);
    }

    [Fact]
    public async Task Schema_15_to_17_matches_catalog_description()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.True(pre.Skipped.Count == 0, "nothing in the fixture is skipped by design; skipped: " + string.Join("; ", pre.Skipped));
        await AssertSameCatalogAsync(dbs);
    }

    [Fact]
    public async Task Schema_12_to_17_matches_catalog_description()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg12, TestServer.Pg17);
        await MigrationDatabases.MigrateAsync(dbs.Options());

        await AssertSameCatalogAsync(dbs);
    }

    [Fact]
    public Task Rich_schema_with_icu_collations_migrates_with_its_rows_from_12_to_15() => MigratesWithRowsAndIcuCollationsAsync(TestServer.Pg12, TestServer.Pg15);

    [Fact]
    public Task Rich_schema_with_icu_collations_migrates_with_its_rows_from_12_to_17() => MigratesWithRowsAndIcuCollationsAsync(TestServer.Pg12, TestServer.Pg17);

    /// <summary>
    /// pgshift migrate (schema and rows) of the whole fixture from a source that keeps an ICU collation's locale in
    /// lc_collate/lc_ctype, which a 15 or 17 target refuses: the target's catalog and rows are the source's, and the
    /// column collated case-insensitively compares as it did there.
    /// </summary>
    private static async Task MigratesWithRowsAndIcuCollationsAsync(TestServer from, TestServer to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(from, to);
        var migrate = await dbs.MigrateWithPgShiftAsync("icu");
        Assert.True(migrate.ExitCode == 0, migrate.All);

        await AssertSameCatalogAsync(dbs);
        foreach (var rows in new[]
        {
            "SELECT id || ' ' || name || ' ' || email || ' ' || coalesce(handle, '-') || ' ' || coalesce(sort_name, '-') FROM app.customers ORDER BY id",
            "SELECT id || ' ' || name || ' ' || badge || ' ' || coalesce(surname, '-') FROM app.employees ORDER BY id",
            "SELECT id || ' ' || customer_id || ' ' || status || ' ' || tags::text || ' ' || note FROM app.orders ORDER BY id",
        })
        {
            var source = await dbs.SourceRowsAsync(rows);
            Assert.NotEmpty(source);
            Assert.Equal(source, await dbs.TargetRowsAsync(rows));
        }

        const string handleCollation = """
            SELECT co.collprovider::text || ' ' || coalesce(to_jsonb(co)->>'colllocale', to_jsonb(co)->>'colliculocale') || ' deterministic=' || co.collisdeterministic
              FROM pg_attribute a JOIN pg_collation co ON co.oid = a.attcollation
             WHERE a.attrelid = 'app.customers'::regclass AND a.attname = 'handle'
            """;
        Assert.Equal(["i und-u-ks-level2 deterministic=false"], await dbs.TargetRowsAsync(handleCollation));
        Assert.Equal(["Ada"], await dbs.TargetRowsAsync("SELECT name FROM app.customers WHERE handle = 'ADA'"));
        Assert.Equal(["Bob"], await dbs.TargetRowsAsync("SELECT name FROM app.customers WHERE handle = 'bob'"));
        // The unique index on the handle holds whatever the case, as on the source.
        var duplicate = await Assert.ThrowsAsync<PostgresException>(() =>
            dbs.Target.ExecuteAsync(dbs.TargetDb, "INSERT INTO app.customers (name, email, handle) VALUES ('Eve', 'eve@example.com', 'BOB')"));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, duplicate.SqlState);
    }

    private static async Task AssertSameCatalogAsync(MigrationDatabases dbs)
    {
        var source = await CatalogDescription.TakeAsync(dbs.Source, dbs.SourceDb);
        var target = await CatalogDescription.TakeAsync(dbs.Target, dbs.TargetDb);
        var diff = CatalogDescription.Differences(source, target);
        Assert.True(diff.Length == 0, "the target's catalog differs from the source's:\n" + diff);
    }
}
