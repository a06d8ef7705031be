using System.Net;
using System.Reflection;
using System.Text.Json;
using Prometheus;
using PgShift.Progress;
using PgShift.Settings;

namespace PgShift.Cli.Monitoring;

/// <summary>
/// Serves a running task's Prometheus metrics at /metrics, a read-only status page at / and the page's data at
/// /status.json, on one port, until disposed. Only GET (and HEAD) are answered: nothing here changes the task.
/// </summary>
internal sealed class MonitorServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<TaskProgress?> _current;
    private readonly ProgressMetrics _metrics;
    private readonly DelayHistory _history = new();
    private readonly Task _loop;
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("PgShift.Cli.Monitoring.status.html")!;
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>Where a person opens the page, e.g. http://127.0.0.1:9187/.</summary>
    public string Url { get; }

    private MonitorServer(MonitorEndpoint endpoint, Func<TaskProgress?> current)
    {
        _current = current;
        _metrics = new ProgressMetrics(current);
        var address = IPAddress.Parse(endpoint.Address);
        var any = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
        var host = any ? "*" : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        _listener.Prefixes.Add($"http://{host}:{endpoint.Port}/");
        if (IPAddress.IsLoopback(address))
        {
            // The listener matches the request's Host: a browser opening localhost reaches the same page.
            _listener.Prefixes.Add($"http://localhost:{endpoint.Port}/");
        }
        Url = $"http://{(any ? "127.0.0.1" : host)}:{endpoint.Port}/";
        try
        {
            _listener.Start();
        }
        catch (HttpListenerException ex)
        {
            throw new PgShiftException($"Cannot serve the metrics and status page on {endpoint.Address} port {endpoint.Port}: {ex.Message}.",
                "Give another --metrics-port (metrics_port: in a task file), or stop what listens on that one.");
        }
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>Starts serving; <paramref name="current"/> gives the task's progress of the moment.</summary>
    public static MonitorServer Start(MonitorEndpoint endpoint, Func<TaskProgress?> current) => new(endpoint, current);

    /// <summary>Keeps the delay's history from the progress the task publishes (twice a second).</summary>
    public void Observe(TaskProgress progress) => _history.Add(DateTime.UtcNow, progress.Stream);

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(context));
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            response.Headers["Cache-Control"] = "no-store";
            if (context.Request.HttpMethod is not ("GET" or "HEAD"))
            {
                response.StatusCode = 405;
                response.Headers["Allow"] = "GET, HEAD";
                return;
            }
            switch (context.Request.Url?.AbsolutePath)
            {
                case "/metrics":
                    response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    await _metrics.Registry.CollectAndExportAsTextAsync(response.OutputStream);
                    break;
                case "/":
                case "/index.html":
                    response.ContentType = "text/html; charset=utf-8";
                    response.Headers["Content-Security-Policy"] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";
                    await response.OutputStream.WriteAsync(Page.Value);
                    break;
                case "/status.json":
                    response.ContentType = "application/json; charset=utf-8";
                    var view = _current() is { } progress ? StatusView.From(progress, _history.Samples(), DateTime.UtcNow) : new { phase = "starting" };
                    await JsonSerializer.SerializeAsync(response.OutputStream, view);
                    break;
                default:
                    response.StatusCode = 404;
                    break;
            }
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
