using System.Diagnostics;
using System.Globalization;

namespace PgShift.Torture;

/// <summary>
/// The PostgreSQL servers of tests/servers/pg-servers.sh (pg12, pg15, pg17), reached and restarted with the same
/// environment the script was started with: PGSHIFT_TEST_DIR and the PGSHIFT_PG*_PORT variables.
/// </summary>
public sealed class ServerSet
{
    private static readonly Dictionary<string, int> DefaultPorts = new() { ["pg12"] = 25412, ["pg15"] = 25415, ["pg17"] = 25417 };
    private readonly Dictionary<string, string> _env;
    private readonly Dictionary<string, int> _ports;

    /// <param name="environment">PGSHIFT_TEST_DIR and PGSHIFT_PG*_PORT; missing ones take the script's defaults.</param>
    public ServerSet(IReadOnlyDictionary<string, string?> environment)
    {
        _env = new Dictionary<string, string>();
        foreach (var key in new[] { "PGSHIFT_TEST_DIR", "PGSHIFT_PG12_PORT", "PGSHIFT_PG15_PORT", "PGSHIFT_PG17_PORT", "PGSHIFT_SERVER_CACHE", "PGSHIFT_PG_USER" })
        {
            if (environment.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v))
            {
                _env[key] = v;
            }
        }
        _ports = DefaultPorts.ToDictionary(p => p.Key,
            p => _env.TryGetValue($"PGSHIFT_{p.Key.ToUpperInvariant()}_PORT", out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : p.Value);
    }

    public static ServerSet FromProcessEnvironment()
        => new(Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value));

    public int Port(string server) => _ports[server];

    /// <summary>An Npgsql connection string, no pooling (the servers restart under it).</summary>
    public string ConnectionString(string server, string database)
        => $"Host=127.0.0.1;Port={Port(server)};Username=postgres;Database={database};Pooling=false;Timeout=10;Command Timeout=0;Include Error Detail=true";

    /// <summary>The libpq keyword/value form pgshift takes, as a user types it.</summary>
    public string KeywordValue(string server, string database) => $"host=127.0.0.1 port={Port(server)} dbname={database} user=postgres";

    public Task StartAsync(IEnumerable<string> servers) => RunScriptAsync(["start"], string.Join(' ', servers));

    public Task StopAsync(IEnumerable<string> servers) => RunScriptAsync(["stop"], string.Join(' ', servers));

    /// <summary>Fast shutdown and start of one server: its sessions, walsenders included, are cut.</summary>
    public Task RestartAsync(string server) => RunScriptAsync(["restart", server], server);

    private async Task RunScriptAsync(string[] args, string servers)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in _env)
        {
            psi.Environment[k] = v;
        }
        psi.Environment["PGSHIFT_SERVERS"] = servers;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg-servers.sh {string.Join(' ', args)} failed ({p.ExitCode}): {await err}");
        }
    }

    public static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "servers", "pg-servers.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/servers/pg-servers.sh not found above " + AppContext.BaseDirectory);
    }
}
