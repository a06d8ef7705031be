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
        var precheck = await PgShiftProcess.RunAsync(["precheck", "--types", "schema,full",
            "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)]);
        // Nothing will be left out, and the precheck says so before anything runs.
        Assert.Matches(@"passed +source\.unsupported_objects +No objects that PgShift does not migrate\.", precheck.Stdout);

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

    [Fact]
    public async Task Periods_configuration_rows_migrate_and_its_functions_work_on_the_target()
    {
        await using var dbs = await DatabasesAsync("periods", "btree_gist");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE EXTENSION periods CASCADE;
            CREATE TABLE public.employees (id int PRIMARY KEY, name text, valid_from date NOT NULL, valid_to date NOT NULL);
            SELECT periods.add_period('public.employees', 'validity', 'valid_from', 'valid_to');
            SELECT periods.add_system_time_period('public.employees');
            SELECT periods.add_system_versioning('public.employees');
            INSERT INTO public.employees (id, name, valid_from, valid_to) VALUES (1, 'ada', '2020-01-01', '2021-01-01');
            """);
        // A transaction of its own: periods keeps no history of a row changed in the transaction that inserted it.
        await dbs.Source.ExecuteAsync(dbs.SourceDb, "UPDATE public.employees SET name = 'ada l.' WHERE id = 1");

        var migrate = await MigrateAsync(dbs, "periods");

        Assert.True(migrate.ExitCode == 0, migrate.All);
        // periods keeps tables as regclass: the rows must name the target's tables, not the source's oids.
        await AssertSameAsync(dbs, "SELECT table_name::text || ' ' || period_name || ' ' || start_column_name || ' ' || end_column_name FROM periods.periods ORDER BY 1");
        await AssertSameAsync(dbs, "SELECT table_name::text || ' ' || history_table_name::text || ' ' || view_name::text FROM periods.system_versioning");
        await AssertSameAsync(dbs, "SELECT id || ' ' || name FROM public.employees_history ORDER BY 1");
        // The extension works on the target: a unique key over the period, and system versioning writes history.
        Assert.Equal(["employees_id_validity"], await dbs.TargetRowsAsync("SELECT periods.add_unique_key('public.employees', ARRAY['id'], 'validity')"));
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "UPDATE public.employees SET name = 'ada lovelace' WHERE id = 1");
        Assert.Equal(["ada", "ada l."], await dbs.TargetRowsAsync("SELECT name FROM public.employees_history ORDER BY system_time_start"));
        Assert.Equal(["ada lovelace"], await dbs.TargetRowsAsync("SELECT name FROM public.employees"));
    }

    [Fact]
    public async Task Partman_configuration_migrates_and_maintenance_knows_the_parent_on_the_target()
    {
        await using var dbs = await DatabasesAsync("pg_partman");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA partman;
            CREATE EXTENSION pg_partman SCHEMA partman;
            CREATE TABLE public.measures (id bigint NOT NULL, at timestamptz NOT NULL, v int) PARTITION BY RANGE (id);
            SELECT partman.create_parent('public.measures', 'id', 'native', '10', p_premake := 3, p_start_partition := '0');
            INSERT INTO public.measures SELECT i, now(), i FROM generate_series(0, 25) i;
            UPDATE partman.part_config SET retention = '100', retention_keep_table = true WHERE parent_table = 'public.measures';
            """);

        var migrate = await MigrateAsync(dbs, "partman");

        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.DoesNotContain("skipped  ", migrate.Stdout, StringComparison.Ordinal);
        await AssertSameAsync(dbs, """
            SELECT parent_table || ' ' || control || ' ' || partition_interval || ' ' || partition_type || ' ' || premake || ' ' || retention
                   || ' ' || coalesce(template_table, '-') FROM partman.part_config
            """);
        await AssertSameAsync(dbs, "SELECT partition_schemaname || '.' || partition_tablename FROM partman.show_partitions('public.measures')");
        await AssertSameAsync(dbs, "SELECT tableoid::regclass::text || ' ' || count(*) FROM public.measures GROUP BY tableoid ORDER BY 1");
        // verify compares the configuration rows too, and names the table when they differ.
        string[] verifyArgs = ["verify", "--task", "partman", "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)];
        var verify = await PgShiftProcess.RunAsync(verifyArgs);
        Assert.True(verify.ExitCode == 0, verify.All);
        Assert.Contains("equal    \"partman\".\"part_config\"", verify.Stdout, StringComparison.Ordinal);
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "UPDATE partman.part_config SET premake = 9");
        var differs = await PgShiftProcess.RunAsync(verifyArgs);
        Assert.NotEqual(0, differs.ExitCode);
        Assert.Contains("DIFFERS  \"partman\".\"part_config\"", differs.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 extension configuration table differs", differs.Stdout, StringComparison.Ordinal);
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "UPDATE partman.part_config SET premake = 3");
        // Maintenance on the target knows the parent (it failed with "Given parent table not managed by pg_partman"),
        // and makes the partitions that new rows need, as it does on the source.
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "INSERT INTO public.measures SELECT i, now(), i FROM generate_series(26, 35) i");
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "SELECT partman.run_maintenance('public.measures')");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, "INSERT INTO public.measures SELECT i, now(), i FROM generate_series(26, 35) i");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, "SELECT partman.run_maintenance('public.measures')");
        await AssertSameAsync(dbs, "SELECT partition_schemaname || '.' || partition_tablename FROM partman.show_partitions('public.measures')");
        await AssertSameAsync(dbs, "SELECT tableoid::regclass::text || ' ' || count(*) FROM public.measures GROUP BY tableoid ORDER BY 1");
        Assert.Contains("public.measures_p60", await dbs.TargetRowsAsync("SELECT partition_schemaname || '.' || partition_tablename FROM partman.show_partitions('public.measures')"));
    }

    [Fact]
    public async Task A_topology_and_user_spatial_reference_systems_migrate_and_topology_functions_see_them()
    {
        await using var dbs = await DatabasesAsync("postgis", "postgis_topology");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE EXTENSION postgis;
            CREATE EXTENSION postgis_topology;
            -- A row of the user's in spatial_ref_sys (the extension's own rows are left to CREATE EXTENSION).
            INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
            VALUES (990001, 'pgshift', 990001, '', '+proj=longlat +datum=WGS84 +no_defs');
            SELECT topology.CreateTopology('city', 4326);
            CREATE TABLE public.parcels (id serial PRIMARY KEY, name text);
            SELECT topology.AddTopoGeometryColumn('city', 'public', 'parcels', 'shape', 'POLYGON');
            INSERT INTO public.parcels (name, shape) VALUES
              ('a', topology.toTopoGeom('POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))'::geometry, 'city', 1)),
              ('b', topology.toTopoGeom('POLYGON((1 0, 2 0, 2 1, 1 1, 1 0))'::geometry, 'city', 1));
            """);

        var migrate = await MigrateAsync(dbs, "topology");

        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.DoesNotContain("skipped  ", migrate.Stdout, StringComparison.Ordinal);
        await AssertSameAsync(dbs, "SELECT srid || ' ' || auth_name || ' ' || proj4text FROM public.spatial_ref_sys WHERE srid >= 990000");
        await AssertSameAsync(dbs, "SELECT count(*)::text FROM public.spatial_ref_sys");
        await AssertSameAsync(dbs, "SELECT id || ' ' || name || ' ' || srid || ' ' || hasz FROM topology.topology");
        await AssertSameAsync(dbs, "SELECT topology_id || ' ' || layer_id || ' ' || schema_name || '.' || table_name || '.' || feature_column FROM topology.layer");
        // Topology functions on the target see the topology and its layer, and a new topology takes the next id.
        await AssertSameAsync(dbs, "SELECT topology.GetTopologyId('city')::text");
        await AssertSameAsync(dbs, "SELECT name || ' ' || ST_AsText(shape::geometry) FROM public.parcels ORDER BY id");
        await AssertSameAsync(dbs, "SELECT count(*)::text FROM topology.ValidateTopology('city')");
        await AssertSameAsync(dbs, "SELECT topology.CreateTopology('suburb', 4326)::text");
        Assert.Equal(["b"], await dbs.TargetRowsAsync("""
            SELECT name FROM public.parcels WHERE ST_Intersects(shape::geometry, ST_Transform(ST_SetSRID('POINT(1.5 0.5)'::geometry, 990001), 4326))
            """));
    }
}
