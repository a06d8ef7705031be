using Microsoft.Extensions.Logging.Abstractions;
using PgShift.Catalog;
using PgShift.IntegrationTests.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Replication;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Stream;

/// <summary>
/// A table with FORCE ROW LEVEL SECURITY and a restrictive policy, migrated by a target user that owns the tables and is
/// no superuser: while the stream follows, row security is enabled but not forced, so the applied inserts, updates and
/// deletes of rows the policies hide from the owner all land; the cutover forces it as on the source.
/// </summary>
public sealed class RowLevelSecurityStreamTests : FreshDatabases
{
    private const string Schema = """
        CREATE TABLE docs (id int PRIMARY KEY, level int NOT NULL);
        INSERT INTO docs SELECT g, g % 5 FROM generate_series(1, 100) g;
        ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
        ALTER TABLE docs FORCE ROW LEVEL SECURITY;
        CREATE POLICY see_all ON docs USING (true);
        CREATE POLICY never_two ON docs AS RESTRICTIVE USING (level <> 2);
        """;

    private const string Changes = """
        INSERT INTO docs SELECT g, 2 FROM generate_series(101, 120) g;
        UPDATE docs SET level = 3 WHERE level = 2 AND id <= 50;
        UPDATE docs SET level = 2 WHERE level = 4 AND id <= 50;
        DELETE FROM docs WHERE level = 2 AND id BETWEEN 51 AND 80;
        """;

    [Fact]
    public async Task The_stream_writes_every_row_under_force_and_a_restrictive_policy_and_the_cutover_forces_row_security()
    {
        var source = TestServer.Pg15;
        var target = TestServer.Pg17;
        var src = await CreateAsync(source, "rlssrc");
        var tgt = await CreateAsync(target, "rlstgt");
        await source.ExecuteAsync(src, Schema);
        await target.ExecuteAsync("postgres", """
            DO $$
            BEGIN
                CREATE ROLE sec_rls_owner LOGIN NOSUPERUSER NOBYPASSRLS;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $$;
            """ + $"ALTER DATABASE {Sql.Ident(tgt)} OWNER TO sec_rls_owner;");
        var task = "rls_" + Run;
        var options = StreamingRun.Options(source, src, target, tgt, task) with { Target = target.Spec(tgt, user: "sec_rls_owner") };
        using var cancel = new CancellationTokenSource();
        var running = await StreamingRun.StartAsync(options, cancel.Token);

        const string security = "SELECT relrowsecurity || ',' || relforcerowsecurity FROM pg_class WHERE oid = 'docs'::regclass";
        Assert.Equal("true,false", await target.ScalarAsync<string>(tgt, security));
        await source.ExecuteAsync(src, Changes);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        var result = await new MigrationTask(NullLogger.Instance).RunAsync(options, cutover: true, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(result.Finished);

        await CopyFixture.AssertSameAsync(source, src, target, tgt, ["docs"]);
        Assert.Equal(await source.ScalarAsync<string>(src, security), await target.ScalarAsync<string>(tgt, security));
        Assert.Equal("true,true", await target.ScalarAsync<string>(tgt, security));
        await SlotCleanup.CleanupAsync(source.Spec(src), task, CancellationToken.None);
    }
}
