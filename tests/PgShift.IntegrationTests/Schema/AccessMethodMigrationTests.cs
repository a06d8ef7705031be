using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Access methods, transforms and conversions not created by an extension migrate when their functions exist on the
/// target, and tables and materialized views keep a table access method other than heap; one whose function cannot be
/// created is left out, with what uses it.
/// </summary>
public sealed class AccessMethodMigrationTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string Catalog = """
        SELECT 'method ' || amname || ' ' || amtype::text || ' ' || amhandler::regproc || ' ' || coalesce(obj_description(oid, 'pg_am'), '-')
          FROM pg_am WHERE oid >= 16384
        UNION ALL
        SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' || a.amname
          FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relnamespace = 'amx'::regnamespace AND c.relkind IN ('r', 'm')
        UNION ALL
        SELECT 'transform ' || trftype::regtype || ' ' || l.lanname || ' ' || trffromsql::regprocedure || ' ' || trftosql::regprocedure || ' '
               || coalesce(obj_description(t.oid, 'pg_transform'), '-')
          FROM pg_transform t JOIN pg_language l ON l.oid = t.trflang
        UNION ALL
        SELECT 'conversion ' || conname || ' ' || pg_encoding_to_char(conforencoding) || ' ' || pg_encoding_to_char(contoencoding) || ' '
               || conproc::regproc || ' ' || condefault || ' ' || coalesce(obj_description(oid, 'pg_conversion'), '-')
          FROM pg_conversion WHERE connamespace = 'amx'::regnamespace
        ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Access_methods_transforms_and_conversions_migrate_and_a_table_using_the_method_takes_rows(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA amx;
            CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
            CREATE ACCESS METHOD btree2 TYPE INDEX HANDLER bthandler;
            COMMENT ON ACCESS METHOD heap2 IS 'heap again';
            CREATE TABLE amx.items (id int PRIMARY KEY, name text) USING heap2;
            CREATE TABLE amx.plain (id int);
            INSERT INTO amx.items VALUES (1, 'one'), (2, 'two');
            CREATE MATERIALIZED VIEW amx.item_names USING heap2 AS SELECT name FROM amx.items;
            CREATE TRANSFORM FOR integer LANGUAGE sql (FROM SQL WITH FUNCTION prsd_lextype(internal), TO SQL WITH FUNCTION int4recv(internal));
            COMMENT ON TRANSFORM FOR integer LANGUAGE sql IS 'a transform';
            CREATE DEFAULT CONVERSION amx.latin_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
            COMMENT ON CONVERSION amx.latin_utf8 IS 'a conversion';
            """);
        var migrate = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", "amx",
            "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);

        var source = await dbs.SourceRowsAsync(Catalog);
        Assert.Contains("relation amx.items r heap2", source);
        Assert.Contains("relation amx.plain r heap", source);
        Assert.Contains("relation amx.item_names m heap2", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(Catalog));
        Assert.Equal(["one", "two"], await dbs.TargetRowsAsync("SELECT name FROM amx.item_names ORDER BY 1"));
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "INSERT INTO amx.items VALUES (3, 'three')");
        Assert.Equal(["1 one", "2 two", "3 three"], await dbs.TargetRowsAsync("SELECT id || ' ' || name FROM amx.items ORDER BY id"));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_method_or_transform_whose_function_cannot_be_created_is_left_out(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA amx;
            CREATE FUNCTION amx.own_handler(internal) RETURNS table_am_handler AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE C;
            CREATE ACCESS METHOD own_heap TYPE TABLE HANDLER amx.own_handler;
            CREATE FUNCTION amx.own_to_sql(internal) RETURNS integer AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE C IMMUTABLE STRICT;
            CREATE TRANSFORM FOR integer LANGUAGE sql (FROM SQL WITH FUNCTION prsd_lextype(internal), TO SQL WITH FUNCTION amx.own_to_sql(internal));
            CREATE TABLE amx.kept (id int);
            """);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Contains(pre.Skipped, s => s.Object == "access method \"own_heap\"" && s.Reason.Contains("amx.own_handler", StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object == "transform for integer LANGUAGE \"sql\"" && s.Reason.Contains("amx.own_to_sql", StringComparison.Ordinal));
        Assert.Equal(["relation amx.kept r heap"], await dbs.TargetRowsAsync(Catalog));
    }
}
