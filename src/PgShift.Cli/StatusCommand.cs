using System.CommandLine;
using System.Text.Json;
using PgShift.Connections;
using PgShift.Progress;
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
            Exit code 0 when the task was found (whatever its phase), 2 when it was not or on a usage or runtime error.

            Examples:
              pgshift status --target postgres://app@new-db/app --task app
              pgshift status --target postgres://app@new-db/app --task app --json
              pgshift status --reverse --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var reverse = WayBackTask.Option("Show the task's way back (after 'pgshift cutover --reverse'); needs --source, where its state is.");
        common.AddTo(cmd, selection: false);
        cmd.Options.Add(common.Json);
        cmd.Options.Add(reverse);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: pr.GetValue(reverse));
            var state = WayBackTask.StateServer(task, pr.GetValue(reverse));
            // Through a fallback's fence: the state's session may have to create what a newer PgShift keeps.
            await using var target = await ConnectionOpener.OpenAsync(state.ThroughFence(), "pgshift status", ct);
            var report = await UnknownTask.RequireAsync(target, state, task.TaskName, "'pgshift migrate' creates the task.", ct);
            if (pr.GetValue(common.Json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(report, JsonOutput.Options));
                return ExitCodes.Success;
            }
            Console.Out.WriteLine($"task     {report.Task}{(pr.GetValue(reverse) ? " (way back)" : "")}  (source {report.Source})");
            Console.Out.WriteLine($"phase    {report.Phase.Text()}  (done: {string.Join(", ", report.PhasesDone.DefaultIfEmpty("nothing yet"))}), updated {report.UpdatedAt:u}");
            if (report.SlotName is not null)
            {
                Console.Out.WriteLine(report.SlotDroppedAt is { } dropped
                    ? $"slot     {report.SlotName} dropped on the source by 'pgshift cleanup' at {dropped:u} (it was consistent at {report.ConsistentLsn})"
                    : $"slot     {report.SlotName}, consistent at {report.ConsistentLsn}");
            }
            var progress = report.ToProgress(DateTime.UtcNow);
            if (progress.Copy is { } copy)
            {
                foreach (var line in ProgressText.CopyStatus(copy))
                {
                    Console.Out.WriteLine(line);
                }
            }
            if (report.Staging is { } staging && (staging.Changes > 0 || staging.Running))
            {
                Console.Out.WriteLine(ProgressText.StagingStatus(staging, streamRunning: report.Stream?.Running == true));
            }
            if (progress.Stream is { } stream)
            {
                Console.Out.WriteLine(ProgressText.StreamStatus(stream, slotDropped: report.SlotDroppedAt is not null));
            }
            if (report.Limits != RateLimits.None)
            {
                Console.Out.WriteLine($"limits   {ProgressText.Limits(report.Limits)}");
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
