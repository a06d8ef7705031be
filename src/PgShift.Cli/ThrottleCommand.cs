using System.CommandLine;
using PgShift.Connections;
using PgShift.Progress;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>pgshift throttle: changes a task's rate limits in its state, where the running task reads them every two seconds.</summary>
internal static class ThrottleCommand
{
    public static Command Create(CommonOptions common)
    {
        var copyRate = new Option<string?>("--copy-rate")
        {
            Description = "Bytes a second the copy may read from the source, all workers together: e.g. 50MB, 500kB (kB = 1024 bytes); 0 for no limit.",
        };
        var applyRate = new Option<string?>("--apply-rate")
        {
            Description = "Changes a second the stream may apply to the target: e.g. 1000; 0 for no limit.",
        };
        var cmd = new Command("throttle", """
            Change how fast a task copies and applies changes, while it runs: the limits are kept in the task's state
            on the target, and the running 'pgshift migrate' takes them within a few seconds (a task not running now
            uses them when it runs again). Without --copy-rate or --apply-rate, shows the limits in force.
            Exit code 0 when the limits are set (or shown), 2 on a usage error or an unknown task.

            Examples:
              pgshift throttle --target postgres://app@new-db/app --task app --copy-rate 50MB
              pgshift throttle --target postgres://app@new-db/app --task app --apply-rate 1000 --copy-rate 0
            """);
        common.AddTo(cmd, selection: false);
        // Nothing here is retried.
        cmd.Options.Remove(common.RetryWindowOption);
        cmd.Options.Add(copyRate);
        cmd.Options.Add(applyRate);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: false);
            long? copy = pr.GetValue(copyRate) is { } c ? SettingValues.ByteRate(c, "--copy-rate") : null;
            double? apply = pr.GetValue(applyRate) is { } a ? SettingValues.ChangeRate(a, "--apply-rate") : null;
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift throttle", ct);
            var report = await UnknownTask.RequireAsync(target, task.Target, task.TaskName, "'pgshift migrate' creates the task.", ct);
            if (copy is null && apply is null)
            {
                Console.Out.WriteLine($"Task {task.TaskName}: {ProgressText.Limits(report.Limits)}.");
                return ExitCodes.Success;
            }
            await TaskLimits.SetAsync(target, task.TaskName, copy, apply, ct);
            var limits = await TaskLimits.LoadAsync(target, task.TaskName, ct);
            var running = await TaskLock.IsHeldAsync(target, task.TaskName, ct);
            Console.Out.WriteLine($"Task {task.TaskName}: {ProgressText.Limits(limits)}; "
                + (report.Phase is TaskPhase.Finished ? "the task is finished, so nothing more is copied or applied."
                    : running ? "the running task takes them within a few seconds." : "no process runs the task now: it uses them when it runs again."));
            return ExitCodes.Success;
        });
        return cmd;
    }
}
