using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Extended statistics (kinds, columns, expressions from PostgreSQL 14, statistics target, comment) migrate as on the
/// source; those on a table left out are left out, those on an excluded column are reported skipped, and a renamed
/// table and column keep theirs.
/// </summary>
public sealed class ExtendedStatisticsTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string Fixture = """
        CREATE SCHEMA st;
        CREATE TABLE st.t (a int, b text, c numeric, d int);
        INSERT INTO st.t SELECT g, 'b' || (g % 7), g % 11, g % 3 FROM generate_series(1, 500) g;
        CREATE TABLE st.other (x int, y int);
        CREATE STATISTICS st.s_all ON a, b FROM st.t;
        CREATE STATISTICS st.s_dep (dependencies, ndistinct) ON a, c, d FROM st.t;
        COMMENT ON STATISTICS st.s_all IS 'a with b';
        CREATE STATISTICS st.s_other (mcv) ON x, y FROM st.other;
        """;

    private const string Statistics = """
        SELECT pg_get_statisticsobjdef(s.oid) || ' target=' || coalesce(nullif(to_jsonb(s) ->> 'stxstattarget', '-1'), 'default')
               || ' ' || coalesce(obj_description(s.oid, 'pg_statistic_ext'), '-')
          FROM pg_statistic_ext s WHERE s.stxnamespace = 'st'::regnamespace ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Extended_statistics_migrate_as_on_the_source(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + (dbs.Source.Major >= 14 ? "CREATE STATISTICS st.s_expr (mcv) ON (a * 2), upper(b), d FROM st.t;" : "")
            + (dbs.Source.Major >= 13 ? "ALTER STATISTICS st.s_dep SET STATISTICS 500;" : ""));

        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Empty(pre.Skipped);
        var source = await dbs.SourceRowsAsync(Statistics);
        Assert.Contains($"CREATE STATISTICS st.s_dep (ndistinct, dependencies) ON a, c, d FROM st.t target={(dbs.Source.Major >= 13 ? "500" : "default")} -", source);
        Assert.Contains("CREATE STATISTICS st.s_all ON a, b FROM st.t target=default a with b", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(Statistics));
    }

    [Fact]
    public async Task Statistics_follow_the_selection_the_excluded_columns_and_the_renames()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + "CREATE STATISTICS st.s_expr (mcv) ON (a * 2), upper(b), d FROM st.t;");
        var t = new QualifiedName("st", "t");
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.Selection.ExcludeTables.Add(new NamePattern("st.other"));
            o.ExcludedColumns.Add("st.t.c");
            o.Mapping.Tables[t] = "facts";
            o.Mapping.Columns[t] = new Dictionary<string, string> { ["b"] = "label" };
        }));

        Assert.Equal([
            "CREATE STATISTICS st.s_all ON a, label FROM st.facts target=default a with b",
            "CREATE STATISTICS st.s_expr (mcv) ON d, (a * 2), upper(label) FROM st.facts target=default -",
        ], await dbs.TargetRowsAsync(Statistics));
        Assert.Equal([("statistics \"st\".\"s_dep\"", "uses column \"c\" of table \"st\".\"t\", which is excluded")], pre.Skipped);
    }
}
