using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Objects of PostgreSQL's own regression database that failed a whole migration: a comment on an aggregate of no
/// arguments (named name(*), not name()), and an operator whose negator is only a shell (an operator with no function yet).
/// </summary>
public sealed class RoutineEdgeCaseTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_commented_aggregate_of_no_arguments_and_an_operator_with_a_shell_negator_migrate(string from, string to)
    {
        static TestServer Server(string v) => v switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
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
}
