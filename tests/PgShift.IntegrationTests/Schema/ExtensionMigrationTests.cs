using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Real extensions from Debian's packages (PostGIS with raster and topology, pg_partman, periods) migrated 15 to 15 on the
/// ext15 server pair of tests/servers/pg-servers.sh: tables that use an extension's types are the user's and move, and the
/// extension works on the target afterwards.
/// </summary>
public sealed class ExtensionMigrationTests
{
    private static async Task<MigrationDatabases> DatabasesAsync(params string[] extensions)
    {
        await TestServer.Ext15Source.RequireExtensionsAsync(extensions);
        await TestServer.Ext15Target.RequireExtensionsAsync(extensions);
        return await MigrationDatabases.CreateAsync(TestServer.Ext15Source, TestServer.Ext15Target, loadFixture: false);
    }

    /// <summary>pgshift migrate --types schema,full of the source database into the target one.</summary>
    private static Task<PgShiftProcess.Result> MigrateAsync(MigrationDatabases dbs, string task) => PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", task,
        "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)], timeout: TimeSpan.FromMinutes(3));

    private static async Task AssertSameAsync(MigrationDatabases dbs, string sql)
    {
        var source = await dbs.SourceRowsAsync(sql);
        Assert.NotEmpty(source);
        Assert.Equal(source, await dbs.TargetRowsAsync(sql));
    }

    [Fact]
    public async Task Tables_using_postgis_composite_and_raster_types_migrate_with_their_checks()
    {
        await using var dbs = await DatabasesAsync("postgis", "postgis_raster");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE EXTENSION postgis;
            CREATE EXTENSION postgis_raster;
            -- A CHECK on a field of geometry_dump: pg_depend names the type's relation, which the extension owns.
            CREATE TABLE public.dumps (id int PRIMARY KEY, d geometry_dump CHECK ((d).path IS NOT NULL));
            INSERT INTO public.dumps SELECT 1, ST_Dump('MULTIPOINT((1 2), (3 4))'::geometry) LIMIT 1;
            CREATE TABLE public.rasters (id serial PRIMARY KEY, rast raster, band addbandarg);
            INSERT INTO public.rasters (rast, band)
            SELECT ST_AddBand(ST_MakeEmptyRaster(10, 10, 0, 0, 1, -1, 0, 0, 4326), '8BUI'::text, 7), ROW(1, '8BUI', 7, NULL)::addbandarg;
            SELECT AddRasterConstraints('rasters'::name, 'rast'::name);
            """);

        var migrate = await MigrateAsync(dbs, "postgis");

        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.DoesNotContain("skipped  ", migrate.Stdout, StringComparison.Ordinal);
        await AssertSameAsync(dbs, "SELECT id || ' ' || ST_AsText((d).geom) || ' ' || (d).path::text FROM public.dumps ORDER BY id");
        await AssertSameAsync(dbs, """
            SELECT id || ' ' || ST_Width(rast) || 'x' || ST_Height(rast) || ' srid ' || ST_SRID(rast) || ' value ' || ST_Value(rast, 1, 3, 3)
                   || ' ' || (ST_SummaryStats(rast)).sum || ' ' || md5(ST_AsBinary(rast)) || ' ' || band::text
              FROM public.rasters ORDER BY id
            """);
        await AssertSameAsync(dbs, """
            SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE conrelid IN ('public.dumps'::regclass, 'public.rasters'::regclass) ORDER BY 1
            """);
        Assert.Equal(["2"], await dbs.TargetRowsAsync("SELECT nextval('public.rasters_id_seq')::text"));
    }

    [Fact]
    public async Task An_extension_whose_script_creates_its_own_schema_migrates()
    {
        await using var dbs = await DatabasesAsync("periods", "btree_gist");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE EXTENSION periods CASCADE;
            CREATE TABLE public.employees (id int PRIMARY KEY, name text, valid_from date NOT NULL, valid_to date NOT NULL);
            INSERT INTO public.employees VALUES (1, 'ada', '2020-01-01', '2021-01-01');
            """);

        var migrate = await MigrateAsync(dbs, "periods");

        Assert.True(migrate.ExitCode == 0, migrate.All);
        const string members = """
            SELECT e.extname || ' in ' || e.extnamespace::regnamespace::text || ' owns schema ' || n.nspname
              FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid JOIN pg_extension e ON e.oid = d.refobjid
             WHERE d.classid = 'pg_namespace'::regclass AND d.deptype = 'e'
            """;
        Assert.Equal(["periods in public owns schema periods"], await dbs.TargetRowsAsync(members));
        await AssertSameAsync(dbs, "SELECT id || ' ' || name FROM public.employees");
    }
}
