using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PgShift.Connections;
using PgShift.Schema;
using PgShift.State;

namespace PgShift.Cli;

internal static class StatusCommand
{
    public static Command Create(CommonOptions common)
    {
        var cmd = new Command("status", """
            Show a task's phase, copy progress per table and last error, from its state on the target (run it from
            any shell while the task runs). Only --target and --task are needed.

            Examples:
              pgshift status --target postgres://app@new-db/app --task app
              pgshift status --target postgres://app@new-db/app --task app --json
            """);
        common.AddTo(cmd, selection: false);
        cmd.Options.Add(common.Json);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: false);
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift status", ct);
            var report = await UnknownTask.RequireAsync(target, task.Target, task.TaskName, "'pgshift migrate' creates the task.", ct);
            if (pr.GetValue(common.Json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(report, JsonOutput.Options));
                return ExitCodes.Success;
            }
            var done = report.Tables.Count(t => t.Status == "done");
            Console.Out.WriteLine($"task     {report.Task}  (source {report.Source})");
            Console.Out.WriteLine($"phase    {report.Phase.Text()}  (done: {string.Join(", ", report.PhasesDone.DefaultIfEmpty("nothing yet"))}), updated {report.UpdatedAt:u}");
            if (report.SlotName is not null)
            {
                Console.Out.WriteLine($"slot     {report.SlotName}, consistent at {report.ConsistentLsn}");
            }
            if (report.Tables.Count > 0)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"copy     {done}/{report.Tables.Count} tables, {report.Tables.Sum(t => t.RowsCopied):N0} rows, {report.Tables.Sum(t => t.BytesCopied) / 1048576.0:0.0} MB"));
                foreach (var t in report.Tables.Where(t => t.Status != "done" && t.StartedAt is not null))
                {
                    var seconds = (DateTime.UtcNow - t.StartedAt!.Value.ToUniversalTime()).TotalSeconds;
                    var rate = seconds > 0 ? t.BytesCopied / seconds : 0;
                    var eta = rate > 0 && t.EstimatedBytes > t.BytesCopied ? $", ETA {TimeSpan.FromSeconds((t.EstimatedBytes - t.BytesCopied) / rate):hh\\:mm\\:ss}" : "";
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  copying {t.SourceTable}: {t.RowsCopied:N0} rows, {t.BytesCopied / 1048576.0:0.0} MB, {rate / 1048576.0:0.0} MB/s{eta}"));
                }
            }
            if (report.Stream is { } st)
            {
                var state = st.RetryingUntil is { } until ? $"retrying (until {until:u})"
                    : !st.Running ? "not running"
                    : st.PausedAt is { } paused ? string.Create(CultureInfo.InvariantCulture, $"paused by a verify at {paused}, delay {st.DelaySeconds:0.0} s, {st.DelayBytes / 1024.0:N0} KB")
                    : st.NotDelayed ? "not delayed" : string.Create(CultureInfo.InvariantCulture, $"delay {st.DelaySeconds:0.0} s, {st.DelayBytes / 1024.0:N0} KB");
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"stream   {state}; {st.ChangesApplied:N0} changes applied up to {st.AppliedLsn ?? "-"}; slot keeps {st.SlotRetainedBytes / 1048576.0:0.0} MB of WAL"));
            }
            if (report.LastError is not null)
            {
                Console.Out.WriteLine($"error    {report.LastError} (at {report.LastErrorAt:u})");
            }
            return ExitCodes.Success;
        });
        return cmd;
    }
}
