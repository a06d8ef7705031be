using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Row-level security: policies (permissive and restrictive, per command, per role, with comments) and the tables'
/// ENABLE and FORCE ROW LEVEL SECURITY migrate as on the source; the copy still writes every row while FORCE and a
/// restrictive policy are on, a policy on a table left out is left out, a renamed table keeps its policies, and a
/// policy's role missing on the target is a warning.
/// </summary>
public sealed class RowLevelSecurityTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string Roles = """
        DO $$
        BEGIN
            CREATE ROLE sec_rls_reader NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$;
        """;

    private const string Fixture = """"
        CREATE SCHEMA rls;
        CREATE TABLE rls.docs (id int PRIMARY KEY, author text NOT NULL, level int NOT NULL);
        INSERT INTO rls.docs SELECT g, 'user' || (g % 3), g % 5 FROM generate_series(1, 200) g;
        CREATE TABLE rls.open (id int PRIMARY KEY);
        ALTER TABLE rls.docs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE rls.docs FORCE ROW LEVEL SECURITY;
        ALTER TABLE rls.open FORCE ROW LEVEL SECURITY;
        CREATE POLICY see_low ON rls.docs FOR SELECT USING (level < 3);
        CREATE POLICY only_two ON rls.docs AS RESTRICTIVE USING (level <> 2);
        CREATE POLICY write_own ON rls.docs FOR INSERT TO sec_rls_reader, PUBLIC WITH CHECK (author = current_user);
        CREATE POLICY "Edit ""own""" ON rls.docs FOR UPDATE TO sec_rls_reader USING (author = current_user) WITH CHECK (level < 4);
        CREATE POLICY drop_none ON rls.docs FOR DELETE USING (false);
        CREATE POLICY by_lookup ON rls.docs USING (id IN (SELECT o.id FROM rls.open o));
        COMMENT ON POLICY see_low ON rls.docs IS 'low levels only';
        """";

    internal const string PolicyCatalog = """
        SELECT c.oid::regclass::text || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity || ' '
               || coalesce(p.polname || ' ' || p.polpermissive || ' ' || p.polcmd::text || ' '
               || (SELECT string_agg(n, ',' ORDER BY n) FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) r) x(n)) || ' '
               || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-') || ' '
               || coalesce(obj_description(p.oid, 'pg_policy'), '-'), '')
          FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
         WHERE c.relnamespace = 'rls'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Policies_and_row_security_migrate_and_the_copy_writes_every_row_under_force(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync("postgres", Roles);
        await dbs.Target.ExecuteAsync("postgres", Roles);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture);
        // The copy runs as the owner of the tables it creates, not a superuser: FORCE and the restrictive policy bind it.
        await dbs.Target.ExecuteAsync("postgres", """
            DO $$
            BEGIN
                CREATE ROLE sec_rls_owner LOGIN NOSUPERUSER NOBYPASSRLS;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$;
            """ + $"ALTER DATABASE {Sql.Ident(dbs.TargetDb)} OWNER TO sec_rls_owner;");

        var migrate = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", "rls",
            "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb, user: "sec_rls_owner")], timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);

        var source = await dbs.SourceRowsAsync(PolicyCatalog);
        Assert.Contains("rls.docs rls=true force=true only_two false * public (level <> 2) - -", source);
        Assert.Contains("rls.docs rls=true force=true see_low true r public (level < 3) - low levels only", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(PolicyCatalog));
        // Every row arrived (counted by a superuser), while the owner itself now sees only what the policies allow.
        const string rows = "SELECT count(*) || ' ' || sum(id) FROM rls.docs";
        Assert.Equal(await dbs.SourceRowsAsync(rows), await dbs.TargetRowsAsync(rows));
        Assert.Equal(["200 20100"], await dbs.TargetRowsAsync(rows));
        await using var owner = new Npgsql.NpgsqlConnection(dbs.Target.ConnectionString(dbs.TargetDb, user: "sec_rls_owner"));
        await owner.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM rls.docs", owner);
        Assert.Equal(80L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_policy_on_a_table_left_out_is_left_out_a_renamed_table_keeps_its_own_and_a_missing_role_is_a_warning()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync("postgres", Roles + """
            DO $$
            BEGIN
                CREATE ROLE sec_rls_source_only NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$;
            """);
        await dbs.Target.ExecuteAsync("postgres", Roles + "DROP ROLE IF EXISTS sec_rls_source_only;");
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + """
            CREATE TABLE rls.secret (id int PRIMARY KEY, note text);
            ALTER TABLE rls.secret ENABLE ROW LEVEL SECURITY;
            CREATE POLICY hide ON rls.secret USING (note IS NULL);
            CREATE POLICY both_roles ON rls.open TO sec_rls_reader, sec_rls_source_only USING (id > 0);
            CREATE POLICY gone_only ON rls.open TO sec_rls_source_only USING (id > 1);
            CREATE POLICY uses_note ON rls.open USING (EXISTS (SELECT 1 FROM rls.secret s WHERE s.id = open.id));
            """);
        var docs = new QualifiedName("rls", "docs");
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.Selection.ExcludeTables.Add(new NamePattern("rls.secret"));
            o.Mapping.Tables[docs] = "papers";
            o.Mapping.Columns[docs] = new Dictionary<string, string> { ["level"] = "grade" };
        }));

        var target = await dbs.TargetRowsAsync(PolicyCatalog);
        Assert.DoesNotContain(target, r => r.StartsWith("rls.secret", StringComparison.Ordinal));
        Assert.Contains("rls.papers rls=true force=true see_low true r public (grade < 3) - low levels only", target);
        Assert.Contains("rls.papers rls=true force=true only_two false * public (grade <> 2) - -", target);
        Assert.Contains("rls.open rls=false force=true both_roles true * sec_rls_reader (id > 0) - -", target);
        Assert.DoesNotContain(target, r => r.Contains(" gone_only ", StringComparison.Ordinal) || r.Contains(" uses_note ", StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object == "policy \"uses_note\" on \"rls\".\"open\"" && s.Reason.Contains("\"rls\".\"secret\", which is not selected", StringComparison.Ordinal));
        Assert.Contains(pre.Warnings, w => w.Contains("\"sec_rls_source_only\"", StringComparison.Ordinal) && w.Contains("not migrated: policy \"gone_only\"", StringComparison.Ordinal));
        Assert.Contains(pre.Warnings, w => w.Contains("\"sec_rls_source_only\"", StringComparison.Ordinal) && w.Contains("policy \"both_roles\" on \"rls\".\"open\" is migrated without it", StringComparison.Ordinal));
    }
}
