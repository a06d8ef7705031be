using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using PgShift.Connections;
using PgShift.Cutover;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.Cli;

/// <summary>cutover, stop and cleanup: they act on a task through its state on the target and its slot on the source.</summary>
internal static class ControlCommands
{
    public static Command Cutover(CommonOptions common)
    {
        var cmd = new Command("cutover", """
            Cut the task over: wait until the change stream has applied everything (stop the application's writes
            first), copy unlogged tables again, sync every sequence from the source, finish the schema (ENABLE ALWAYS
            triggers; foreign keys and triggers that waited), and mark the task finished. Works whether or not a
            'pgshift migrate' process is running for the task: if one is, it is asked to cut over and this waits.

            Example:
              pgshift cutover --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var noVerify = new Option<bool>("--no-verify") { Description = "Do not run 'pgshift verify' as the last step." };
        common.AddTo(cmd);
        cmd.Options.Add(common.Verbose);
        cmd.Options.Add(noVerify);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr);
            var code = await CutoverAsync(pr, common, task, ct);
            if (code != ExitCodes.Success || pr.GetValue(noVerify))
            {
                return code;
            }
            Console.Out.WriteLine("verify: comparing every table of the source and the target");
            var report = await new Verify.Verifier().VerifyAsync(VerifyCommand.Options(task), ct);
            VerifyCommand.Print(report, json: false);
            return report.Equal ? ExitCodes.Success : ExitCodes.Failed;
        });
        return cmd;
    }

    private static async Task<int> CutoverAsync(ParseResult pr, CommonOptions common, ResolvedTask task, CancellationToken ct)
    {
        {
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift cutover", ct);
            var report = await TaskStatusReport.LoadAsync(target, task.TaskName, ct)
                ?? throw new PgShiftException($"No task named {task.TaskName} on the target.", "Check --task and --target; 'pgshift migrate' creates the task.");
            if (report.Phase == "finished")
            {
                Console.Out.WriteLine($"Task {task.TaskName} is finished already.");
                return ExitCodes.Success;
            }
            if (await TaskControl.IsStreamingAsync(target, task.TaskName, ct))
            {
                await TaskControl.RequestAsync(target, task.TaskName, "cutover_requested", ct);
                Console.Out.WriteLine($"Asked the running migrate process of task {task.TaskName} to cut over; waiting.");
                var last = DateTime.MinValue;
                await TaskControl.WaitForPhaseAsync(target, task.TaskName, ["finished"], r =>
                {
                    if (DateTime.UtcNow - last > TimeSpan.FromSeconds(2) && r.Stream is { } s)
                    {
                        last = DateTime.UtcNow;
                        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"cutover  phase {r.Phase}, {(s.NotDelayed ? "not delayed" : $"delay {s.DelaySeconds:0.0} s, {s.DelayBytes / 1024.0:N0} KB")}"));
                    }
                }, ct);
                Console.Out.WriteLine($"Task {task.TaskName} is cut over and finished.");
                return ExitCodes.Success;
            }
            using var loggerFactory = Logging.Create(pr.GetValue(common.Verbose));
            var options = new MigrationOptions
            {
                Source = task.Source, Target = task.Target, TaskName = task.TaskName, Schema = false, Full = false, Incremental = true,
                Selection = task.Selection, ExcludedColumns = task.ExcludedColumns, Mapping = task.Mapping,
                RetryWindow = common.RetryWindow(pr, task),
            };
            return await MigrateCommand.RunAsync(new MigrationTask(loggerFactory.CreateLogger("pgshift")), options, cutover: true, ct);
        }
    }

    public static Command Stop(CommonOptions common)
    {
        var cmd = new Command("stop", """
            Stop a running task where it stands: the 'pgshift migrate' process applying its changes commits what it
            has and exits with code 0; one still creating the schema, copying or building indexes cancels that work
            (a table whose copy was cut short is copied again). 'pgshift migrate' resumes the task later; the slot
            keeps the changes meanwhile.

            Example:
              pgshift stop --target postgres://app@new-db/app --task app
            """);
        common.AddTo(cmd, selection: false);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: false);
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift stop", ct);
            _ = await TaskStatusReport.LoadAsync(target, task.TaskName, ct)
                ?? throw new PgShiftException($"No task named {task.TaskName} on the target.", "Check --task and --target.");
            if (!await TaskControl.IsStreamingAsync(target, task.TaskName, ct))
            {
                Console.Out.WriteLine($"No process is streaming task {task.TaskName}; nothing to stop.");
                return ExitCodes.Success;
            }
            await TaskControl.RequestAsync(target, task.TaskName, "stop_requested", ct);
            await TaskControl.WaitForPhaseAsync(target, task.TaskName, ["stopped", "finished"], null, ct);
            Console.Out.WriteLine($"Task {task.TaskName} stopped; 'pgshift migrate' resumes it.");
            return ExitCodes.Success;
        });
        return cmd;
    }

    public static Command Cleanup(CommonOptions common)
    {
        var cmd = new Command("cleanup", """
            Drop the task's replication slot and publication on the source, so the source keeps no WAL for it.
            Run it after the cutover; on an unfinished task it ends the task's ability to stream.

            Example:
              pgshift cleanup --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        common.AddTo(cmd, selection: false);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr);
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift cleanup", ct);
            var report = await TaskStatusReport.LoadAsync(target, task.TaskName, ct);
            if (report is not null && report.Phase != "finished")
            {
                Console.Out.WriteLine($"warning  task {task.TaskName} is not finished (phase {report.Phase}): without its slot it cannot stream again.");
            }
            var dropped = await TaskControl.CleanupAsync(task.Source, task.TaskName, ct);
            Console.Out.WriteLine(dropped.Count == 0 ? $"Nothing of task {task.TaskName} left on the source." : $"Dropped {string.Join(" and ", dropped)}.");
            return ExitCodes.Success;
        });
        return cmd;
    }
}
