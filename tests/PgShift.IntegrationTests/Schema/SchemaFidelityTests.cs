using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// The whole rich fixture, migrated (pre-data, then post-data) and compared with its source: with
/// pg_dump where Debian's pg_dump 15 can read both servers, and with the catalog description where the
/// target is PostgreSQL 17, which that pg_dump cannot dump.
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

    private static async Task AssertSameCatalogAsync(MigrationDatabases dbs)
    {
        var source = await CatalogDescription.TakeAsync(dbs.Source, dbs.SourceDb);
        var target = await CatalogDescription.TakeAsync(dbs.Target, dbs.TargetDb);
        var diff = CatalogDescription.Differences(source, target);
        Assert.True(diff.Length == 0, "the target's catalog differs from the source's:\n" + diff);
    }
}
