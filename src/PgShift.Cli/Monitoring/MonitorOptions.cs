using System.CommandLine;
using PgShift.Settings;

namespace PgShift.Cli.Monitoring;

/// <summary>The options of the metrics and status page, on the commands that run a task (migrate, and cutover when it runs the stream).</summary>
internal sealed class MonitorOptions
{
    public Option<string?> Port { get; } = new("--metrics-port")
    {
        Description = "Serve Prometheus metrics at http://ADDRESS:PORT/metrics and a status page at http://ADDRESS:PORT/ while the task runs (metrics_port: in a task file).",
    };

    public Option<string?> Address { get; } = new("--metrics-address")
    {
        Description = "The address the metrics and status page listen on: 127.0.0.1 (default, this machine only), 0.0.0.0 for every interface.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Port);
        command.Options.Add(Address);
    }

    /// <summary>Folds the flags into the task file's form, checked (they win over the task file).</summary>
    public void Fold(ParseResult pr, TaskFile given)
    {
        if (pr.GetValue(Port) is { } port)
        {
            given.MetricsPort = SettingValues.Port(port, "--metrics-port");
        }
        if (pr.GetValue(Address) is { } address)
        {
            given.MetricsAddress = SettingValues.Address(address, "--metrics-address");
        }
    }
}
