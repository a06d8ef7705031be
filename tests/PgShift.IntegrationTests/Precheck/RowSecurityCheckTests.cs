using PgShift.IntegrationTests.Infrastructure;
using PgShift.Precheck;

namespace PgShift.IntegrationTests.Precheck;

/// <summary>
/// source.row_security: tables whose row-level security policies bind the source role (a forced table it owns, a table
/// of another owner) fail, as the copy would miss the rows they hide; its own unforced table, or BYPASSRLS, passes.
/// </summary>
public sealed class RowSecurityCheckTests(Pg15To17 pair) : PrecheckHarness(pair), IClassFixture<Pg15To17>
{
    [Fact]
    public async Task Policies_that_bind_the_source_role_fail_and_bypassrls_passes()
    {
        var schema = NewSchema();
        var role = "rls_" + Guid.NewGuid().ToString("N")[..8];
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE ROLE {role} LOGIN REPLICATION;
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}.own_plain (id int PRIMARY KEY);
            CREATE TABLE {schema}.own_forced (id int PRIMARY KEY);
            CREATE TABLE {schema}.others (id int PRIMARY KEY);
            ALTER TABLE {schema}.own_plain ENABLE ROW LEVEL SECURITY;
            ALTER TABLE {schema}.own_forced ENABLE ROW LEVEL SECURITY;
            ALTER TABLE {schema}.own_forced FORCE ROW LEVEL SECURITY;
            ALTER TABLE {schema}.others ENABLE ROW LEVEL SECURITY;
            ALTER TABLE {schema}.own_plain OWNER TO {role};
            ALTER TABLE {schema}.own_forced OWNER TO {role};
            GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT ON {schema}.others TO {role};
            """);
        try
        {
            var report = await RunAsync(schema, source: Pair.Source.Spec(Pair.SourceDb, role));
            var check = Single(report, "source.row_security", CheckStatus.Failed);
            Assert.Contains($"on 2 selected tables (\"{schema}\".\"others\", \"{schema}\".\"own_forced\")", check.Message, StringComparison.Ordinal);
            Assert.StartsWith($"ALTER ROLE \"{role}\" BYPASSRLS;", check.Fix, StringComparison.Ordinal);

            await Pair.Source.ExecuteAsync("postgres", $"ALTER ROLE {role} BYPASSRLS");
            Single(await RunAsync(schema, source: Pair.Source.Spec(Pair.SourceDb, role)), "source.row_security", CheckStatus.Passed);
        }
        finally
        {
            await Pair.Source.ExecuteAsync(Pair.SourceDb, $"DROP OWNED BY {role}; DROP ROLE {role};");
        }
    }
}
