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
        ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb), "--task", task, "--retry-window", "1m"];

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
        await using var migrate = new PgShiftBackground(["migrate", .. args]);
        await migrate.WaitForAsync("stream:", TimeSpan.FromMinutes(2));
        // Copied with the data, from the task's snapshot.
        Assert.Equal(6L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_largeobject_metadata"));
        Assert.Matches(@"copy  large objects: 6/6 objects, 6\.\d MB", migrate.Output);

        await pair.Source.ExecuteAsync(pair.SourceDb, LargeObjectFixture.During(owner, reader));
        // The stream carries the table's rows, not the objects: until the cutover the target still has the old ones.
        var cutover = await PgShiftProcess.RunAsync(["cutover", "--timeout", "2m", .. args], timeout: TimeSpan.FromMinutes(3));
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

public sealed class LargeObjects15To17(Pg15To17 pair) : LargeObjectMigrationTests(pair), IClassFixture<Pg15To17>;

public sealed class LargeObjects12To17(Pg12To17 pair) : LargeObjectMigrationTests(pair), IClassFixture<Pg12To17>;
