using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Column privileges and default privileges (database-wide, which replace the built-in ones, and per schema, which add
/// to them) migrate as on the source; a column left out takes its privileges along, and a role missing on the target,
/// or one the target user may not act for, is a warning.
/// </summary>
public sealed class PrivilegeTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string Fixture = """
        CREATE SCHEMA priv;
        CREATE TABLE priv.t (id int, secret text, extra text);
        GRANT SELECT (id, secret), UPDATE (secret) ON priv.t TO sec_priv_a;
        GRANT INSERT (id) ON priv.t TO sec_priv_b WITH GRANT OPTION;
        GRANT SELECT (extra) ON priv.t TO sec_priv_a;
        ALTER DEFAULT PRIVILEGES IN SCHEMA priv GRANT SELECT, INSERT ON TABLES TO sec_priv_a;
        ALTER DEFAULT PRIVILEGES FOR ROLE sec_priv_b REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
        ALTER DEFAULT PRIVILEGES FOR ROLE sec_priv_b GRANT USAGE ON SEQUENCES TO sec_priv_a WITH GRANT OPTION;
        ALTER DEFAULT PRIVILEGES FOR ROLE sec_priv_a REVOKE ALL ON TYPES FROM sec_priv_a;
        ALTER DEFAULT PRIVILEGES FOR ROLE sec_priv_a GRANT ALL ON SCHEMAS TO sec_priv_b;
        """;

    private const string Privileges = """
        SELECT 'default ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '-') || ' ' || d.defaclobjtype::text || ' '
               || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x), '')
          FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        UNION ALL
        SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' '
               || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x)
          FROM pg_attribute a WHERE a.attrelid = 'priv.t'::regclass AND a.attacl IS NOT NULL
        ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Column_and_default_privileges_migrate_as_on_the_source(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync("postgres", MigrationDatabases.CreateRoles("sec_priv_a", "sec_priv_b"));
        await dbs.Target.ExecuteAsync("postgres", MigrationDatabases.CreateRoles("sec_priv_a", "sec_priv_b"));
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture);

        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Empty(pre.Warnings);
        var source = await dbs.SourceRowsAsync(Privileges);
        Assert.Contains("column priv.t.secret sec_priv_a=rw/postgres", source);
        Assert.Contains("default sec_priv_b - f sec_priv_b=X/sec_priv_b", source);
        Assert.Contains("default postgres priv r sec_priv_a=ar/postgres", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(Privileges));
    }

    [Fact]
    public async Task An_excluded_column_takes_its_privileges_along_and_roles_missing_or_not_ours_are_warnings()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync("postgres", MigrationDatabases.CreateRoles("sec_priv_a", "sec_priv_b", "sec_priv_gone"));
        await dbs.Target.ExecuteAsync("postgres", MigrationDatabases.CreateRoles("sec_priv_a", "sec_priv_b") + "DROP ROLE IF EXISTS sec_priv_gone;" + """
            DO $$
            BEGIN
                CREATE ROLE sec_priv_owner LOGIN NOSUPERUSER;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$;
            """ + $"ALTER DATABASE {Sql.Ident(dbs.TargetDb)} OWNER TO sec_priv_owner;");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + """
            GRANT SELECT (id) ON priv.t TO sec_priv_gone;
            ALTER DEFAULT PRIVILEGES FOR ROLE sec_priv_gone GRANT SELECT ON TABLES TO sec_priv_a;
            ALTER DEFAULT PRIVILEGES IN SCHEMA priv GRANT UPDATE ON TABLES TO sec_priv_gone;
            """);

        var options = dbs.Options(o => o.ExcludedColumns.Add("priv.t.extra")) with { Target = dbs.Target.Spec(dbs.TargetDb, user: "sec_priv_owner") };
        var (pre, _) = await MigrationDatabases.MigrateAsync(options);

        var target = await dbs.TargetRowsAsync(Privileges);
        Assert.Equal([
            "column priv.t.id sec_priv_a=r/sec_priv_owner,sec_priv_b=a*/sec_priv_owner",
            "column priv.t.secret sec_priv_a=rw/sec_priv_owner",
        ], target);
        Assert.Contains(pre.Warnings, w => w.Contains("\"sec_priv_gone\" does not exist on the target; not migrated: default privileges for role \"sec_priv_gone\" on tables", StringComparison.Ordinal));
        Assert.Contains(pre.Warnings, w => w.Contains("\"sec_priv_gone\" does not exist on the target; default privileges for role \"postgres\" in schema \"priv\" on tables is migrated without it", StringComparison.Ordinal));
        // Default privileges are for the source's roles; the target user is not a member of them.
        Assert.Contains(pre.Warnings, w => w.StartsWith("Not migrated: default privileges for role \"sec_priv_b\" on functions: permission denied", StringComparison.Ordinal));
        Assert.Contains(pre.Warnings, w => w.StartsWith("Not migrated: default privileges for role \"postgres\" in schema \"priv\" on tables: permission denied", StringComparison.Ordinal));
        Assert.Contains(pre.Warnings, w => w.Contains("Role sec_priv_gone does not exist on the target", StringComparison.Ordinal));
    }
}
