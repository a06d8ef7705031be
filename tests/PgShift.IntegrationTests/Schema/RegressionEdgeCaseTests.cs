using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Objects of PostgreSQL's own regression database that failed a whole migration: a comment on an aggregate of no
/// arguments (named name(*), not name()), an operator whose negator is only a shell (an operator with no function yet),
/// and NOT VALID checks on a domain and on a table (rows from before them break them, so they come after the data).
/// </summary>
public sealed class RegressionEdgeCaseTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private static Task<MigrationDatabases> EmptyDatabasesAsync(string from, string to) => MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);

    /// <summary>pgshift migrate --types schema,full of the task's source database into its target one.</summary>
    private static Task<PgShiftProcess.Result> MigrateAsync(MigrationDatabases dbs, string task) => PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", task,
        "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)], timeout: TimeSpan.FromMinutes(3));

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_commented_aggregate_of_no_arguments_and_an_operator_with_a_shell_negator_migrate(string from, string to)
    {
        await using var dbs = await EmptyDatabasesAsync(from, to);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA edge;
            CREATE AGGREGATE edge.newcnt(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0');
            COMMENT ON AGGREGATE edge.newcnt(*) IS 'an agg(*) comment';
            CREATE AGGREGATE edge.total(int4) (SFUNC = int4pl, STYPE = int4);
            COMMENT ON AGGREGATE edge.total(int4) IS 'a sum';
            -- !== is left a shell: only the NEGATOR of === names it.
            CREATE OPERATOR edge.=== (LEFTARG = bool, RIGHTARG = bool, FUNCTION = booleq, NEGATOR = OPERATOR(edge.!==));
            """);
        var (pre, post) = await MigrationDatabases.MigrateAsync(dbs.Options());
        Assert.Empty(pre.Skipped);

        const string described = """
            SELECT p.oid::regprocedure::text || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
              FROM pg_proc p WHERE p.pronamespace = 'edge'::regnamespace
            UNION ALL
            SELECT 'operator ' || o.oprname || ' ' || (o.oprcode <> 0)::text || ' negator ' || coalesce(n.oprname, '-')
              FROM pg_operator o LEFT JOIN pg_operator n ON n.oid = o.oprnegate WHERE o.oprnamespace = 'edge'::regnamespace
            ORDER BY 1
            """;
        var source = await dbs.SourceRowsAsync(described);
        Assert.Contains("edge.newcnt() an agg(*) comment", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(described));
        Assert.Equal(["true"], await dbs.TargetRowsAsync("SELECT (true OPERATOR(edge.===) true)::text"));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Not_valid_checks_on_a_domain_and_on_an_inherited_table_come_after_the_rows_that_break_them(string from, string to)
    {
        await using var dbs = await EmptyDatabasesAsync(from, to);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA nv;
            CREATE DOMAIN nv.pos AS int;
            CREATE TABLE nv.parent (id int PRIMARY KEY, v nv.pos, w int);
            CREATE TABLE nv.child (extra text) INHERITS (nv.parent);
            INSERT INTO nv.parent VALUES (1, -1, -5), (2, 2, 5);
            INSERT INTO nv.child VALUES (3, -3, -7, 'x');
            ALTER DOMAIN nv.pos ADD CONSTRAINT pos_ck CHECK (VALUE > 0) NOT VALID;
            ALTER TABLE nv.parent ADD CONSTRAINT w_ck CHECK (w > 0) NOT VALID;
            ALTER TABLE nv.parent ADD CONSTRAINT id_ck CHECK (id > 0);
            """);
        var migrate = await MigrateAsync(dbs, "nv");
        Assert.True(migrate.ExitCode == 0, migrate.All);

        const string constraints = """
            SELECT CASE WHEN conrelid <> 0 THEN conrelid::regclass::text ELSE contypid::regtype::text END || ' ' || conname || ' validated=' || convalidated
                   || ' local=' || conislocal || ' inherited=' || coninhcount || ' ' || pg_get_constraintdef(oid)
              FROM pg_constraint WHERE connamespace = 'nv'::regnamespace AND contype = 'c' ORDER BY 1
            """;
        var source = await dbs.SourceRowsAsync(constraints);
        Assert.Contains("nv.pos pos_ck validated=false local=true inherited=0 CHECK ((VALUE > 0)) NOT VALID", source);
        Assert.Contains("nv.child w_ck validated=false local=false inherited=1 CHECK ((w > 0)) NOT VALID", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(constraints));
        const string rows = "SELECT tableoid::regclass::text || ' ' || id || ' ' || v || ' ' || w FROM nv.parent ORDER BY id";
        Assert.Equal(await dbs.SourceRowsAsync(rows), await dbs.TargetRowsAsync(rows));

        // Running it again changes nothing: the checks are there already.
        var again = await MigrateAsync(dbs, "nv");
        Assert.True(again.ExitCode == 0, again.All);
        Assert.Equal(source, await dbs.TargetRowsAsync(constraints));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_child_that_declares_an_inherited_generated_column_takes_the_parents_expression(string from, string to)
    {
        await using var dbs = await EmptyDatabasesAsync(from, to);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA gen;
            CREATE TABLE gen.parent (id int PRIMARY KEY, a int, b int GENERATED ALWAYS AS (a * 2) STORED);
            -- b declared again: local and inherited, generated by the parent's expression.
            CREATE TABLE gen.child (id int PRIMARY KEY, a int, b int, note text) INHERITS (gen.parent);
            INSERT INTO gen.parent (id, a) VALUES (1, 10); INSERT INTO gen.child (id, a, note) VALUES (2, 21, 'x');
            """);
        var migrate = await MigrateAsync(dbs, "gen");
        Assert.True(migrate.ExitCode == 0, migrate.All);
        const string columns = """
            SELECT attrelid::regclass::text || ' ' || attname || ' local=' || attislocal || ' inherited=' || attinhcount || ' generated=' || attgenerated::text
                   || ' ' || coalesce((SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = attrelid AND adnum = attnum), '-')
              FROM pg_attribute WHERE attrelid IN ('gen.parent'::regclass, 'gen.child'::regclass) AND attname = 'b' ORDER BY 1
            """;
        Assert.Equal(await dbs.SourceRowsAsync(columns), await dbs.TargetRowsAsync(columns));
        const string rows = "SELECT tableoid::regclass::text || ' ' || id || ' ' || b FROM gen.parent ORDER BY id";
        Assert.Equal(["gen.parent 1 20", "gen.child 2 42"], await dbs.TargetRowsAsync(rows));
    }
}
