using System.Globalization;
using PgShift.Torture;
using Xunit.Abstractions;

namespace PgShift.IntegrationTests.Torture;

/// <summary>
/// The short torture round every CI run makes (tests/torture/run.sh makes long ones): 12 -> 17 and 15 -> 17, the migrate
/// process killed with SIGKILL in its phases, perhaps a server restarted, a cutover perhaps killed too, then the
/// harness's own digests of every table must be equal. Its servers are its own, so restarting them disturbs no other
/// test. PGSHIFT_TORTURE_SEED picks another seed; PGSHIFT_TORTURE_PORT_BASE the ports (base+12, base+15, base+17).
/// </summary>
public sealed class TortureShortRoundTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pgshift-torture-ci-" + Guid.NewGuid().ToString("N")[..8]);
    private ServerSet? _servers;

    private static int PortBase()
        => Environment.GetEnvironmentVariable("PGSHIFT_TORTURE_PORT_BASE") is { Length: > 0 } b
            ? int.Parse(b, CultureInfo.InvariantCulture)
            // Below the ephemeral port range (32768+), where an outgoing connection could hold a port.
            : 28000 + Random.Shared.Next(0, 40) * 100;

    public async Task InitializeAsync()
    {
        // A port another process holds makes the start fail: then try other ports.
        for (var attempt = 1; ; attempt++)
        {
            var portBase = PortBase();
            _servers = new ServerSet(new Dictionary<string, string?>
            {
                ["PGSHIFT_TEST_DIR"] = _dir,
                ["PGSHIFT_PG12_PORT"] = (portBase + 12).ToString(CultureInfo.InvariantCulture),
                ["PGSHIFT_PG15_PORT"] = (portBase + 15).ToString(CultureInfo.InvariantCulture),
                ["PGSHIFT_PG17_PORT"] = (portBase + 17).ToString(CultureInfo.InvariantCulture),
                ["PGSHIFT_SERVER_CACHE"] = Environment.GetEnvironmentVariable("PGSHIFT_SERVER_CACHE"),
                ["PGSHIFT_PG_USER"] = Environment.GetEnvironmentVariable("PGSHIFT_PG_USER"),
            });
            try
            {
                await _servers.StartAsync(["pg12", "pg15", "pg17"]);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3 && Environment.GetEnvironmentVariable("PGSHIFT_TORTURE_PORT_BASE") is null or "")
            {
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_servers is not null)
        {
            await _servers.StopAsync(["pg12", "pg15", "pg17"]);
        }
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Short_torture_round_with_kills_in_every_phase_ends_with_the_target_equal_to_the_source()
    {
        var seed = Environment.GetEnvironmentVariable("PGSHIFT_TORTURE_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : 20261212;
        var options = new TortureOptions
        {
            Seed = seed,
            Rounds = 2,
            Pairs = [ServerPair.Parse("12-17"), ServerPair.Parse("15-17")],
            Kills = 3,
            RestartChance = 0.5,
            CutoverKillChance = 0.7,
            StreamSeconds = 6,
            Scale = 0.3,
            Clients = 2,
            WorkDirectory = Path.Combine(_dir, "runs"),
            PgShift = Path.Combine(AppContext.BaseDirectory, "pgshift.dll"),
        };
        var run = new TortureRun(options, _servers!);
        await run.RunAsync();
        var summary = run.Summary();
        output.WriteLine(summary);
        foreach (var a in run.Rounds.SelectMany(r => r.Anomalies))
        {
            output.WriteLine("anomaly: " + a);
        }
        Assert.True(run.Rounds.Count == 2 && !run.Failed,
            summary + "\n" + string.Join("\n", run.Rounds.SelectMany(r => r.Differences.Append(r.Error ?? ""))));
        Assert.Equal(0, run.Rounds.Sum(r => r.Differences.Count));
        Assert.True(run.Rounds.Sum(r => r.Kills.Values.Sum()) >= 2, summary);
    }
}
