using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>A running pgshift's metrics endpoint, read as Prometheus reads it, and parsed by Prometheus' own Python client.</summary>
public sealed class MetricsEndpoint(int port)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public int Port { get; } = port;
    public string Url => $"http://127.0.0.1:{Port}/";

    /// <summary>A port nobody listens on now (the OS's choice, so tests never collide).</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>One scrape: the text, its samples, and when it was taken (a stopwatch's seconds).</summary>
    public sealed record Scrape(string Text, IReadOnlyList<Sample> Samples, double At)
    {
        /// <summary>The value of a metric for the task (and a label more, if given); fails when absent.</summary>
        public double Value(string name, string task, string? label = null, string? labelValue = null)
        {
            var found = Samples.Where(s => s.Name == name && s.Labels.GetValueOrDefault("task") == task
                && (label is null || s.Labels.GetValueOrDefault(label) == labelValue)).ToList();
            Assert.True(found.Count == 1, $"expected one sample {name}{{task=\"{task}\"}}, found {found.Count}:\n{Text}");
            return found[0].Value;
        }

        public string? Phase(string task) => Samples.FirstOrDefault(s => s.Name == "pgshift_phase" && s.Labels.GetValueOrDefault("task") == task && s.Value == 1)
            ?.Labels.GetValueOrDefault("phase");
    }

    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    public async Task<string> GetAsync(string path) => await Http.GetStringAsync(Url + path.TrimStart('/'));

    /// <summary>Reads /metrics and parses it with prometheus_client's parser (which fails on anything that is not Prometheus text).</summary>
    public async Task<Scrape> ScrapeAsync()
    {
        var at = Clock.Elapsed.TotalSeconds;
        var text = await GetAsync("metrics");
        return new Scrape(text, await ParseAsync(text), at);
    }

    /// <summary>Scrapes until <paramref name="until"/> holds; fails with the last scrape after <paramref name="timeout"/>.</summary>
    public async Task<Scrape> WaitAsync(Func<Scrape, bool> until, TimeSpan timeout, PgShiftBackground? process = null)
    {
        var end = DateTime.UtcNow + timeout;
        Scrape? last = null;
        while (DateTime.UtcNow < end)
        {
            try
            {
                last = await ScrapeAsync();
                if (until(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException) when (process is null || !process.HasExited)
            {
                // Not listening yet.
            }
            Assert.False(process?.HasExited == true, $"pgshift ended early:\n{process?.Output}");
            await Task.Delay(250);
        }
        Assert.Fail($"the metrics did not reach the expected state within {timeout}; last scrape:\n{last?.Text}\npgshift said:\n{process?.Output}");
        return last!;
    }

    private const string Parser = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            if family.name.startswith("pgshift_") and family.type not in ("gauge", "counter"):
                raise ValueError("no TYPE for " + family.name)
            for s in family.samples:
                out.append({"name": s.name, "labels": s.labels, "value": s.value})
        print(json.dumps(out))
        """;

    /// <summary>Debian's python3-prometheus-client (tests/servers/pg-servers.sh installs it), run by Debian's python3.</summary>
    public static async Task<IReadOnlyList<Sample>> ParseAsync(string text)
    {
        const string python = "/usr/bin/python3";
        Assert.True(File.Exists(python), "Debian's python3 with python3-prometheus-client is missing: 'bash tests/servers/pg-servers.sh start' installs them (apt-get install python3-prometheus-client).");
        var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Parser);
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"prometheus_client could not parse the metrics: {await stderr}\n{text}");
        using var json = JsonDocument.Parse(await stdout);
        return [.. json.RootElement.EnumerateArray().Select(e => new Sample(e.GetProperty("name").GetString()!,
            e.GetProperty("labels").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString()!),
            e.GetProperty("value").GetDouble()))];
    }

    public static string Mb(double bytes) => (bytes / 1048576).ToString("0.00", CultureInfo.InvariantCulture);
}
