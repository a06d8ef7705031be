using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.LargeObjects;

/// <summary>
/// Large objects through a whole task, as a user runs it: copied with the data (same OID, owner, privileges, comment),
/// changed while the task streams (which logical decoding does not carry), synchronised at cutover, and verified.
/// </summary>
public abstract class LargeObjectMigrationTests(ServerPair pair)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    private string[] Args(string task) =>
        ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task];

    /// <summary>The same roles on both servers (roles belong to the server, hence the run's suffix).</summary>
    private async Task<(string Owner, string Reader)> RolesAsync()
    {
        var (owner, reader) = ($"lo_owner_{_run}", $"lo_reader_{_run}");
        foreach (var server in new[] { pair.Source, pair.Target })
        {
            await server.ExecuteAsync("postgres", $"CREATE ROLE {owner} NOLOGIN; CREATE ROLE {reader} NOLOGIN;");
        }
        return (owner, reader);
    }

    [Fact]
    public async Task Large_objects_changed_during_the_stream_are_equal_after_cutover_and_verify_says_so()
    {
        var (owner, reader) = await RolesAsync();
        await pair.Source.ExecuteAsync(pair.SourceDb, LargeObjectFixture.Before(owner, reader));
        var args = Args("lobs");
        var precheck = await PgShiftProcess.RunAsync(["precheck", .. args]);
        Assert.Matches(@"6 large objects, 6\.\d MB: copied in the full copy and synchronised again at cutover", precheck.Stdout);
        await using var migrate = new PgShiftBackground(["migrate", "--retry-window", "1m", .. args]);
        await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
        // Copied with the data, from the task's snapshot.
        Assert.Equal(6L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata"));
        Assert.Matches(@"copy  large objects: 6/6 objects, 6\.\d MB", migrate.Output);

        await pair.Source.ExecuteAsync(pair.SourceDb, LargeObjectFixture.During(owner, reader));
        // The stream carries the table's rows, not the objects: until the cutover the target still has the old ones.
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--timeout", "2m", "--retry-window", "1m", .. args], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + "\nmigrate:\n" + migrate.Output);
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Matches(@"equal    large objects: 7 on the source, 7 on the target", cutover.Stdout);
        await LargeObjectFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb);
        Assert.Equal(await pair.Source.ScalarAsync<long>(pair.SourceDb, "SELECT body::bigint FROM docs WHERE id = 10"),
            await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT body::bigint FROM docs WHERE id = 10"));

        var verify = await PgShiftProcess.RunAsync(["verify", .. args]);
        Assert.True(verify.ExitCode == 0, verify.All);
        // And verify sees a difference in content alone (same size), owner or presence.
        await pair.Target.ExecuteAsync(pair.TargetDb, $"SELECT lo_put(910002, 10, convert_to('x', 'UTF8')); ALTER LARGE OBJECT 910001 OWNER TO {reader}; SELECT lo_unlink(910005);");
        verify = await PgShiftProcess.RunAsync(["verify", .. args]);
        Assert.True(verify.ExitCode == 1, verify.All);
        Assert.Contains("large object 910002: content differs", verify.Stdout, StringComparison.Ordinal);
        Assert.Contains($"large object 910001: owner postgres on the source, {reader} on the target", verify.Stdout, StringComparison.Ordinal);
        Assert.Contains("large object 910005: missing on the target", verify.Stdout, StringComparison.Ordinal);
        await PgShiftProcess.RunAsync(["cleanup", .. args]);
    }
}

/// <summary>Large objects when the task is killed in their copy, when their owner's role is missing on the target, and when the task selects tables.</summary>
public sealed class LargeObjectResumeTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Migrate_killed_while_copying_large_objects_resumes_and_the_cutover_makes_them_equal()
    {
        // 600 objects of 256 kB: several target transactions of whole objects, one job, so the kill falls between them.
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE TABLE docs (id int PRIMARY KEY, body oid);
            INSERT INTO docs SELECT g, lo_from_bytea(0, convert_to(repeat(md5(g::text), 8192), 'UTF8')) FROM generate_series(1, 600) g;
            """);
        var args = new[] { "--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", "lokill" };
        await using (var first = new PgShiftBackground(["migrate", "--jobs", "1", "--retry-window", "1m", .. args]))
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (DateTime.UtcNow < deadline && !first.HasExited
                && await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata") == 0)
            {
                await Task.Delay(20);
            }
            first.Kill();
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        var afterKill = await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata");
        Assert.True(afterKill is > 0 and < 600, $"expected the kill in the middle of the large objects' copy; {afterKill} on the target");
        // Whole objects only: every one on the target has its full size.
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata WHERE length(lo_get(oid)) <> 262144"));

        await pair.Source.ExecuteAsync(pair.SourceDb, "SELECT lo_put(body, 0, convert_to('changed after the kill', 'UTF8')) FROM docs WHERE id = 1");
        await using var second = new PgShiftBackground(["migrate", "--jobs", "1", "--retry-window", "1m", .. args]);
        await second.WaitForAsync("stream:", TimeSpan.FromMinutes(3));
        Assert.Equal(600L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata"));
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--timeout", "2m", "--retry-window", "1m", .. args], timeout: TimeSpan.FromMinutes(3));
        Assert.True(cutover.ExitCode == 0, cutover.All + "\nmigrate:\n" + second.Output);
        Assert.Equal(0, await second.WaitForExitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"Large objects of task lokill: {600 - afterKill} copied ({afterKill} already on the target)", second.Output, StringComparison.Ordinal);
        await LargeObjectFixture.AssertSameAsync(pair.Source, pair.SourceDb, pair.Target, pair.TargetDb);
        await PgShiftProcess.RunAsync(["cleanup", .. args]);
    }

    [Fact]
    public async Task A_table_selection_leaves_large_objects_unless_asked_and_a_missing_owner_role_is_named()
    {
        var ghost = $"lo_ghost_{_run}";
        await pair.Source.ExecuteAsync("postgres", $"CREATE ROLE {ghost} NOLOGIN");
        var sourceDb = await pair.Source.CreateDatabaseAsync("losel");
        var targets = new[] { await pair.Target.CreateDatabaseAsync("losel"), await pair.Target.CreateDatabaseAsync("losel") };
        try
        {
            await pair.Source.ExecuteAsync(sourceDb, $"""
                CREATE TABLE docs (id int PRIMARY KEY, body oid);
                INSERT INTO docs VALUES (1, lo_from_bytea(920001, convert_to('owned by a role the target lacks', 'UTF8')));
                ALTER LARGE OBJECT 920001 OWNER TO {ghost};
                """);
            string[] Args(string target, string task) => ["--include-table", "public.docs", "--task", task,
                "--source", pair.Source.KeywordValue(sourceDb), "--target", pair.Target.KeywordValue(target)];

            var precheck = await PgShiftProcess.RunAsync(["precheck", "--types", "schema,full", .. Args(targets[0], "sel")]);
            Assert.Contains("1 large object, 32 bytes: not copied by this task", precheck.Stdout, StringComparison.Ordinal);
            var selected = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--retry-window", "1m", .. Args(targets[0], "sel")]);
            Assert.True(selected.ExitCode == 0, selected.All);
            Assert.Equal(1L, await pair.Target.ScalarAsync<long>(targets[0], "SELECT count(*) FROM docs"));
            Assert.Equal(0L, await pair.Target.ScalarAsync<long>(targets[0], "SELECT count(*) FROM pg_largeobject_metadata"));

            var asked = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--large-objects", "--retry-window", "1m", .. Args(targets[1], "sel")]);
            Assert.True(asked.ExitCode == 0, asked.All);
            Assert.Contains($"Role {ghost} does not exist on the target: the large object 920001 it owns on the source is owned by postgres there", asked.All, StringComparison.Ordinal);
            Assert.Equal("postgres", await pair.Target.ScalarAsync<string>(targets[1], "SELECT pg_get_userbyid(lomowner)::text FROM pg_largeobject_metadata WHERE oid = 920001"));
            Assert.Equal("owned by a role the target lacks", await pair.Target.ScalarAsync<string>(targets[1], "SELECT convert_from(lo_get(920001), 'UTF8')"));
            var verify = await PgShiftProcess.RunAsync(["verify", .. Args(targets[1], "sel")]);
            Assert.True(verify.ExitCode == 1, verify.All);
            Assert.Contains($"large object 920001: owner {ghost} on the source, postgres on the target", verify.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await pair.Source.DropDatabaseAsync(sourceDb);
            foreach (var t in targets)
            {
                await pair.Target.DropDatabaseAsync(t);
            }
            await pair.Source.ExecuteAsync("postgres", $"DROP ROLE {ghost}");
        }
    }
}

public sealed class LargeObjects15To17(Pg15To17 pair) : LargeObjectMigrationTests(pair), IClassFixture<Pg15To17>;

public sealed class LargeObjects12To17(Pg12To17 pair) : LargeObjectMigrationTests(pair), IClassFixture<Pg12To17>;
