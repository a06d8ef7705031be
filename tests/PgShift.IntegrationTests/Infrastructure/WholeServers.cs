using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>
/// A PostgreSQL 15 source and a 17 target of their own, started by tests/servers/pg-servers.sh in a directory of their own
/// and stopped (their directory removed) at the end: a test of a whole server (--all-databases) must not see the databases
/// other test classes create on the shared servers. Ports: PGSHIFT_WHOLE_SERVER_PORTS ("SOURCE,TARGET"), else free ones.
/// </summary>
public sealed class WholeServers : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Environment.GetEnvironmentVariable("PGSHIFT_TEST_DIR") ?? Path.GetTempPath(), $"whole-server-{Guid.NewGuid():N}"[..30]);
    private Dictionary<string, string> _env = new();

    public TestServer Source { get; private set; } = null!;
    public TestServer Target { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ports = Environment.GetEnvironmentVariable("PGSHIFT_WHOLE_SERVER_PORTS") is { Length: > 0 } given
            ? given.Split(',').Select(int.Parse).ToArray()
            : [FreePort(), FreePort()];
        _env = new Dictionary<string, string>
        {
            ["PGSHIFT_TEST_DIR"] = _dir,
            ["PGSHIFT_SERVERS"] = "pg15 pg17",
            ["PGSHIFT_PG15_PORT"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGSHIFT_PG17_PORT"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var lines = await ServersAsync("start");
        string Line(string name) => lines.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
        Source = TestServer.Started(Line("PGSHIFT_PG15"), 15);
        Target = TestServer.Started(Line("PGSHIFT_PG17"), 17);
    }

    public async Task DisposeAsync()
    {
        // clean: stop them and remove their data directories; PGSHIFT_KEEP_SERVERS=1 keeps both, as for scripts/test.sh.
        await ServersAsync(Environment.GetEnvironmentVariable("PGSHIFT_KEEP_SERVERS") == "1" ? "stop" : "clean");
    }

    private async Task<string> ServersAsync(string verb)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Demo.DemoTests.RepoRoot(), "tests", "servers", "pg-servers.sh"));
        psi.ArgumentList.Add(verb);
        foreach (var (k, v) in _env)
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"pg-servers.sh {verb} failed:\n{await stderr}");
        return await stdout;
    }

    /// <summary>A port nobody listens on, below the ephemeral range (32768 and up) that clients' sockets take, as scripts/demo.sh picks.</summary>
    private static int FreePort()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = Random.Shared.Next(20000, 25000);
            try
            {
                using var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken: try another
            }
        }
        throw new InvalidOperationException("no free port found between 20000 and 25000");
    }
}
