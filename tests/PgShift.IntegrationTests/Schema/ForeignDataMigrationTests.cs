using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Foreign-data wrappers, servers, user mappings (without their password) and foreign tables migrate as pg_dump writes
/// them; a foreign table's rows stay on its server: the copy, the post-data ANALYZE and the verify leave it out (its
/// wrapper here has no handler, so reading it would fail).
/// </summary>
public sealed class ForeignDataMigrationTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string ForeignCatalog = """
        SELECT 'wrapper ' || fdwname || ' ' || coalesce(fdwhandler::regproc::text, '-') || ' ' || coalesce(fdwvalidator::regproc::text, '-') || ' '
               || coalesce(fdwoptions::text, '-') || ' ' || coalesce(fdwacl::text, '-') || ' ' || coalesce(obj_description(oid, 'pg_foreign_data_wrapper'), '-')
          FROM pg_foreign_data_wrapper
        UNION ALL
        SELECT 'server ' || s.srvname || ' ' || w.fdwname || ' ' || coalesce(s.srvtype, '-') || ' ' || coalesce(s.srvversion, '-') || ' '
               || coalesce(s.srvoptions::text, '-') || ' ' || coalesce(s.srvacl::text, '-') || ' ' || coalesce(obj_description(s.oid, 'pg_foreign_server'), '-')
          FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
        UNION ALL
        SELECT 'mapping ' || srvname || ' ' || usename || ' ' || coalesce(ARRAY(SELECT o FROM unnest(umoptions) o WHERE o NOT LIKE 'password=%')::text, '-')
          FROM pg_user_mappings
        UNION ALL
        SELECT 'foreign table ' || f.ftrelid::regclass || ' ' || s.srvname || ' ' || coalesce(f.ftoptions::text, '-') || ' '
               || coalesce(obj_description(f.ftrelid, 'pg_class'), '-')
          FROM pg_foreign_table f JOIN pg_foreign_server s ON s.oid = f.ftserver
        UNION ALL
        SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' '
               || coalesce(attfdwoptions::text, '-') || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
          FROM pg_attribute a JOIN pg_foreign_table f ON f.ftrelid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attnum > 0
        UNION ALL
        SELECT 'partition ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || pg_get_expr(c.relpartbound, c.oid)
          FROM pg_class c WHERE c.relispartition AND c.relnamespace = 'fx'::regnamespace
        UNION ALL
        SELECT 'check ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
          FROM pg_constraint WHERE connamespace = 'fx'::regnamespace AND contype = 'c'
        ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Wrappers_servers_mappings_and_foreign_tables_migrate_and_their_rows_stay_remote(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA fx;
            CREATE FOREIGN DATA WRAPPER plain_fdw OPTIONS (debug 'true', "Mixed Key" 'it''s');
            CREATE FOREIGN DATA WRAPPER checked_fdw VALIDATOR postgresql_fdw_validator;
            CREATE SERVER plain_srv TYPE 'kind' VERSION '1.0' FOREIGN DATA WRAPPER plain_fdw OPTIONS (host 'remote.example', port '5433');
            CREATE SERVER checked_srv FOREIGN DATA WRAPPER checked_fdw OPTIONS (host 'remote.example', dbname 'app');
            CREATE USER MAPPING FOR PUBLIC SERVER plain_srv OPTIONS (user 'reader');
            CREATE USER MAPPING FOR CURRENT_USER SERVER checked_srv OPTIONS (user 'app', password 'very-secret');
            COMMENT ON FOREIGN DATA WRAPPER plain_fdw IS 'a wrapper';
            GRANT USAGE ON FOREIGN DATA WRAPPER plain_fdw TO PUBLIC;
            GRANT USAGE ON FOREIGN SERVER plain_srv TO PUBLIC;
            COMMENT ON SERVER plain_srv IS 'a server';
            CREATE FOREIGN TABLE fx.remote (id int OPTIONS (column_name 'rid') NOT NULL, note text DEFAULT 'none', CHECK (id > 0))
                SERVER plain_srv OPTIONS (schema_name 'r', table_name 't');
            COMMENT ON FOREIGN TABLE fx.remote IS 'remote rows';
            CREATE TABLE fx.parted (id int, v text) PARTITION BY LIST (id);
            CREATE TABLE fx.parted_local PARTITION OF fx.parted FOR VALUES IN (1);
            CREATE FOREIGN TABLE fx.parted_remote PARTITION OF fx.parted FOR VALUES IN (2) SERVER plain_srv;
            INSERT INTO fx.parted_local VALUES (1, 'here');
            """);
        string[] args = ["--task", "fx", "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)];
        var migrate = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", .. args], timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.Contains("holds a password, which is not migrated", migrate.All, StringComparison.Ordinal);
        Assert.DoesNotContain("very-secret", migrate.All, StringComparison.Ordinal);

        var source = await dbs.SourceRowsAsync(ForeignCatalog);
        Assert.Contains("column fx.remote.id integer true {column_name=rid} -", source);
        Assert.Contains("mapping checked_srv postgres {user=app}", source);
        Assert.Contains("server plain_srv plain_fdw kind 1.0 {host=remote.example,port=5433} {postgres=U/postgres,=U/postgres} a server", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(ForeignCatalog));
        Assert.Equal(["0"], await dbs.TargetRowsAsync("SELECT count(*) FROM pg_user_mappings WHERE array_to_string(umoptions, ',') LIKE '%password%'"));
        Assert.Equal(["1 here"], await dbs.TargetRowsAsync("SELECT id || ' ' || v FROM fx.parted_local"));

        var verify = await PgShiftProcess.RunAsync(["verify", .. args]);
        Assert.True(verify.ExitCode == 0, verify.All);
    }
}
