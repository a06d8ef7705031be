using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Objects of PostgreSQL's regression database that a pg_dump restore creates and PgShift left out: functions in
/// LANGUAGE internal (a built-in of the server under another name), the base types whose input and output functions
/// are such functions (a shell type first, then the functions, then the type), casts, operator families and classes.
/// Each is compared with the source's catalog and used on the target.
/// </summary>
public sealed class BuiltInBackedObjectTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private static Task<MigrationDatabases> EmptyDatabasesAsync(string from, string to) => MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);

    private static Task<PgShiftProcess.Result> MigrateAsync(MigrationDatabases dbs, string task) => PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", task,
        "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)], timeout: TimeSpan.FromMinutes(3));

    /// <summary>Three base types over built-in functions: like int8 (with binary I/O), a collatable varlena over text, a fixed-length array of float8 over point.</summary>
    private const string BaseTypes = """
        CREATE SCHEMA bt;
        CREATE TYPE bt.int8alias1;
        CREATE FUNCTION bt.int8alias1in(cstring) RETURNS bt.int8alias1 LANGUAGE internal IMMUTABLE STRICT AS 'int8in';
        CREATE FUNCTION bt.int8alias1out(bt.int8alias1) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int8out';
        CREATE FUNCTION bt.int8alias1recv(internal) RETURNS bt.int8alias1 LANGUAGE internal IMMUTABLE STRICT AS 'int8recv';
        CREATE FUNCTION bt.int8alias1send(bt.int8alias1) RETURNS bytea LANGUAGE internal IMMUTABLE STRICT AS 'int8send';
        CREATE TYPE bt.int8alias1 (INPUT = bt.int8alias1in, OUTPUT = bt.int8alias1out, RECEIVE = bt.int8alias1recv, SEND = bt.int8alias1send, LIKE = int8);
        COMMENT ON TYPE bt.int8alias1 IS 'an int8 by another name';
        CREATE TYPE bt.mytext;
        CREATE FUNCTION bt.mytext_in(cstring) RETURNS bt.mytext LANGUAGE internal IMMUTABLE STRICT AS 'textin';
        CREATE FUNCTION bt.mytext_out(bt.mytext) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
        CREATE TYPE bt.mytext (INPUT = bt.mytext_in, OUTPUT = bt.mytext_out, INTERNALLENGTH = variable, STORAGE = extended,
            ALIGNMENT = int4, CATEGORY = 'S', DELIMITER = ';', COLLATABLE = true, DEFAULT = 'zz');
        CREATE TYPE bt.pair;
        CREATE FUNCTION bt.pair_in(cstring) RETURNS bt.pair LANGUAGE internal IMMUTABLE STRICT AS 'point_in';
        CREATE FUNCTION bt.pair_out(bt.pair) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'point_out';
        CREATE TYPE bt.pair (INPUT = bt.pair_in, OUTPUT = bt.pair_out, INTERNALLENGTH = 16, ELEMENT = float8, ALIGNMENT = double);
        CREATE FUNCTION bt.my_int_eq(int, int) RETURNS bool LANGUAGE internal IMMUTABLE STRICT AS 'int4eq';
        CREATE FUNCTION bt.my_gen_series(int, int) RETURNS SETOF int LANGUAGE internal IMMUTABLE STRICT ROWS 7 AS 'generate_series_int4';
        COMMENT ON FUNCTION bt.my_int_eq(int, int) IS 'int4eq';
        CREATE TABLE bt.holder (id int PRIMARY KEY, a bt.int8alias1, s bt.mytext, p bt.pair);
        INSERT INTO bt.holder VALUES (1, '9000000000', 'one', '(1,2)'), (2, NULL, 'two', NULL);
        INSERT INTO bt.holder (id) VALUES (3);
        """;

    private const string TypeCatalog = """
        SELECT format('%s len=%s byval=%s align=%s storage=%s category=%s preferred=%s delim=%s io=%s/%s/%s/%s elem=%s default=%s collatable=%s defined=%s %s',
                      t.typname, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcategory, t.typispreferred, t.typdelim,
                      t.typinput::regproc, t.typoutput::regproc, t.typreceive::regproc, t.typsend::regproc, t.typelem::regtype,
                      coalesce(t.typdefault, '-'), t.typcollation <> 0, t.typisdefined, coalesce(obj_description(t.oid, 'pg_type'), '-'))
          FROM pg_type t WHERE t.typnamespace = 'bt'::regnamespace AND t.typtype = 'b' ORDER BY 1
        """;

    private const string FunctionCatalog = """
        SELECT format('%s %s %s %s strict=%s setof=%s rows=%s returns %s %s', p.oid::regprocedure, l.lanname, p.prosrc, p.provolatile,
                      p.proisstrict, p.proretset, p.prorows, p.prorettype::regtype, coalesce(obj_description(p.oid, 'pg_proc'), '-'))
          FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'bt'::regnamespace ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Base_types_over_internal_functions_migrate_with_their_rows(string from, string to)
    {
        await using var dbs = await EmptyDatabasesAsync(from, to);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, BaseTypes);
        var migrate = await MigrateAsync(dbs, "bt");
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.Contains("already present, 0 skipped)", migrate.Stdout, StringComparison.Ordinal);

        var types = await dbs.SourceRowsAsync(TypeCatalog);
        Assert.Contains("int8alias1 len=8 byval=t align=d storage=p category=U preferred=f delim=, io=bt.int8alias1in/bt.int8alias1out/bt.int8alias1recv/bt.int8alias1send elem=- default=- collatable=f defined=t an int8 by another name", types);
        Assert.Contains("mytext len=-1 byval=f align=i storage=x category=S preferred=f delim=; io=bt.mytext_in/bt.mytext_out/-/- elem=- default=zz collatable=t defined=t -", types);
        Assert.Contains("pair len=16 byval=f align=d storage=p category=U preferred=f delim=, io=bt.pair_in/bt.pair_out/-/- elem=double precision default=- collatable=f defined=t -", types);
        Assert.Equal(types, await dbs.TargetRowsAsync(TypeCatalog));
        Assert.Equal(await dbs.SourceRowsAsync(FunctionCatalog), await dbs.TargetRowsAsync(FunctionCatalog));

        const string rows = "SELECT id || ' ' || coalesce(a::text, '-') || ' ' || coalesce(s::text, '-') || ' ' || coalesce(p[1]::text, '-') FROM bt.holder ORDER BY id";
        Assert.Equal(["1 9000000000 one 2", "2 - two -", "3 - zz -"], await dbs.TargetRowsAsync(rows));
        Assert.Equal(["true 3"], await dbs.TargetRowsAsync("SELECT bt.my_int_eq(4, 4)::text || ' ' || (SELECT count(*) FROM bt.my_gen_series(1, 3))"));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task An_internal_function_is_left_out_with_its_reason_when_the_target_role_is_not_a_superuser(string from, string to)
    {
        await using var dbs = await EmptyDatabasesAsync(from, to);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA bt;
            CREATE FUNCTION bt.my_int_eq(int, int) RETURNS bool LANGUAGE internal IMMUTABLE STRICT AS 'int4eq';
            CREATE FUNCTION bt.plain(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
            CREATE TABLE bt.t (id int PRIMARY KEY);
            """);
        await dbs.Target.ExecuteAsync(dbs.TargetDb, $"""
            DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgshift_owner') THEN CREATE ROLE pgshift_owner LOGIN; END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
            GRANT CREATE ON DATABASE "{dbs.TargetDb}" TO pgshift_owner;
            ALTER SCHEMA public OWNER TO pgshift_owner;
            """);
        var target = dbs.Target.KeywordValue(dbs.TargetDb, user: "pgshift_owner");
        var migrate = await PgShiftProcess.RunAsync(["migrate", "--types", "schema", "--task", "bt", "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", target],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.Contains("skipped  function bt.my_int_eq(integer,integer): written in LANGUAGE internal: only a superuser can create it, and the target's role is not one",
            migrate.Stdout, StringComparison.Ordinal);
        Assert.Equal(["bt.plain(integer)"], await dbs.TargetRowsAsync("SELECT oid::regprocedure::text FROM pg_proc WHERE pronamespace = 'bt'::regnamespace"));
    }
}
