using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Cli.Monitoring;
using PgShift.Connections;
using PgShift.Cutover;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.Selection;
using PgShift.Settings;
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
            Exit code 0 when the task is cut over (and verify found no difference), 1 when --timeout passed, the task
            failed or verify found a difference, 2 on a usage or runtime error.

            Example:
              pgshift cutover --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var noVerify = new Option<bool>("--no-verify") { Description = "Do not run 'pgshift verify' as the last step." };
        var timeout = new Option<string?>("--timeout")
        {
            Description = "Give up when the target has not caught up within this long (e.g. 10m, 90s): the cutover request is withdrawn, "
                + "the task goes on streaming, and the exit code is 1. Default: wait as long as it takes.",
        };
        var fence = new Option<bool>("--fence")
        {
            Description = "First make the source database read-only (ALTER DATABASE ... SET default_transaction_read_only = on) and end "
                + "the sessions connected to it, so no write is left behind; lifted again if the cutover does not finish.",
        };
        var monitor = new MonitorOptions();
        common.AddTo(cmd);
        cmd.Options.Add(common.RetryWindowOption);
        cmd.Options.Add(common.Verbose);
        monitor.AddTo(cmd);
        cmd.Options.Add(noVerify);
        cmd.Options.Add(timeout);
        cmd.Options.Add(fence);
        cmd.SetAction(async (pr, ct) =>
        {
            var resolved = common.Resolve(pr, commandFlags: given => monitor.Fold(pr, given));
            var task = await StoredSettings.ApplyAsync(resolved, ct);
            var limit = pr.GetValue(timeout) is { } t ? SettingValues.Duration(t, "Timeout") : (TimeSpan?)null;
            var fenced = false;
            if (pr.GetValue(fence))
            {
                var ended = await SourceFence.FenceAsync(task.Source, ct);
                fenced = true;
                Console.Out.WriteLine($"fence: the source database is read-only for new transactions; {ended} session(s) connected to it were ended");
            }
            int code;
            try
            {
                code = await CutoverAsync(pr, common, task, limit, ct);
            }
            catch when (fenced)
            {
                await SourceFence.UnfenceAsync(task.Source, CancellationToken.None);
                Console.Out.WriteLine("fence: lifted (the cutover did not finish)");
                throw;
            }
            if (fenced)
            {
                if (code == ExitCodes.Success)
                {
                    Console.Out.WriteLine("fence: the source database stays read-only; ALTER DATABASE ... RESET default_transaction_read_only lifts it");
                }
                else
                {
                    await SourceFence.UnfenceAsync(task.Source, CancellationToken.None);
                    Console.Out.WriteLine("fence: lifted (the cutover did not finish)");
                }
            }
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

    private static async Task<int> CutoverAsync(ParseResult pr, CommonOptions common, ResolvedTask task, TimeSpan? limit, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (limit is { } l)
        {
            timer.CancelAfter(l);
        }
        int TimedOut()
        {
            Console.Error.WriteLine($"error: the target did not catch up within {limit} (writes to the source still going on?); task {task.TaskName} goes on streaming.");
            Console.Error.WriteLine("fix: Stop the application's writes (or use --fence), then run 'pgshift cutover' again.");
            return ExitCodes.Failed;
        }
        {
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift cutover", ct);
            var report = await UnknownTask.RequireAsync(target, task.Target, task.TaskName, "'pgshift migrate' creates the task.", ct);
            if (report.Phase == TaskPhase.Finished)
            {
                Console.Out.WriteLine($"Task {task.TaskName} is finished already.");
                return ExitCodes.Success;
            }
            if (await TaskLock.IsHeldAsync(target, task.TaskName, ct))
            {
                // The request lives with this session: however this process ends, the running task never cuts over without it.
                await TaskRequests.RequestCutoverAsync(target, task.TaskName, ct);
                Console.Out.WriteLine($"Asked the running migrate process of task {task.TaskName} to cut over; waiting.");
                var last = DateTime.MinValue;
                try
                {
                    await TaskWatch.WaitForPhaseAsync(target, task.TaskName, [TaskPhase.Finished], r =>
                    {
                        if (DateTime.UtcNow - last > TimeSpan.FromSeconds(2) && r.ToProgress(DateTime.UtcNow).Stream is { } s)
                        {
                            last = DateTime.UtcNow;
                            Console.Out.WriteLine($"cutover  phase {r.Phase.Text()}, {ProgressText.StreamState(s)}");
                        }
                    }, timer.Token);
                }
                catch (Exception ex)
                {
                    // Nobody waits for the cutover any more: withdraw the request now rather than when this session ends.
                    // (The cutover may have started already; the phase then says so.)
                    try
                    {
                        await TaskRequests.WithdrawCutoverAsync(target, task.TaskName, CancellationToken.None);
                    }
                    catch (Exception withdraw) when (withdraw is NpgsqlException or InvalidOperationException)
                    {
                        // The session is gone, and the request's lock with it: the running task ignores the request.
                    }
                    if (ex is not OperationCanceledException || ct.IsCancellationRequested)
                    {
                        throw;
                    }
                    return TimedOut();
                }
                Console.Out.WriteLine($"Task {task.TaskName} is cut over and finished.");
                return ExitCodes.Success;
            }
            using var loggerFactory = Logging.Create(pr.GetValue(common.Verbose));
            // The task's own settings: the stream this cutover runs applies changes as the task's migrate did.
            var options = task.Settings with { Schema = false, Full = false, Incremental = true, Apply = CommonOptions.ApplyFromEnvironment() };
            try
            {
                return await MigrateCommand.RunAsync(new MigrationTask(loggerFactory.CreateLogger("pgshift")), options, cutover: true, timer.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return TimedOut();
            }
        }
    }

    public static Command Stop(CommonOptions common)
    {
        var cmd = new Command("stop", """
            Stop a running task where it stands: the 'pgshift migrate' process applying its changes commits what it
            has and exits with code 0; one still creating the schema, copying or building indexes cancels that work
            (a table whose copy was cut short is copied again). 'pgshift migrate' resumes the task later; the slot
            keeps the changes meanwhile.
            Exit code 0 when the task stopped (or no process was running it), 2 on a usage or runtime error.

            Example:
              pgshift stop --target postgres://app@new-db/app --task app
            """);
        common.AddTo(cmd, selection: false);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: false);
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift stop", ct);
            _ = await UnknownTask.RequireAsync(target, task.Target, task.TaskName, "'pgshift status --task NAME' shows a task.", ct);
            if (!await TaskLock.IsHeldAsync(target, task.TaskName, ct))
            {
                Console.Out.WriteLine($"No process is streaming task {task.TaskName}; nothing to stop.");
                return ExitCodes.Success;
            }
            await TaskRequests.RequestStopAsync(target, task.TaskName, ct);
            await TaskWatch.WaitForPhaseAsync(target, task.TaskName, [TaskPhase.Stopped, TaskPhase.Finished], null, ct);
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
            Exit code 0 when done (also when nothing was left), 2 on a usage or runtime error.

            Example:
              pgshift cleanup --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var purge = new Option<bool>("--purge")
        {
            Description = "Also remove the task's record from the target's pgshift schema (its tables stay), so that a later "
                + "'pgshift migrate' of the same name starts a new task: the way out after a lost slot.",
        };
        var dropSlots = new Option<string[]>("--drop-slot")
        {
            Description = "Also drop this slot of PgShift's left by another task (and its publication); cleanup lists them. Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        common.AddTo(cmd, selection: false);
        cmd.Options.Add(purge);
        cmd.Options.Add(dropSlots);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr);
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift cleanup", ct);
            var report = await TaskStatusReport.LoadAsync(target, task.TaskName, ct);
            if (report is not null && report.Phase != TaskPhase.Finished)
            {
                Console.Out.WriteLine($"warning  task {task.TaskName} is not finished (phase {report.Phase.Text()}): without its slot it cannot stream again.");
            }
            var dropped = await SlotCleanup.CleanupAsync(task.Source, task.TaskName, ct);
            if (report is not null)
            {
                await SlotRecord.MarkDroppedAsync(target, task.TaskName, ct);
            }
            Console.Out.WriteLine(dropped.Count == 0 ? $"Nothing of task {task.TaskName} left on the source." : $"Dropped {string.Join(" and ", dropped)}.");
            if (pr.GetValue(purge) && report is not null)
            {
                await TaskState.PurgeAsync(target, task.TaskName, ct);
                Console.Out.WriteLine($"Removed task {task.TaskName} from the target's pgshift schema; its tables stay. A new 'pgshift migrate --task {task.TaskName}' starts afresh (empty or drop its tables first).");
            }
            foreach (var slot in pr.GetValue(dropSlots) ?? [])
            {
                var more = await SlotCleanup.DropSlotAsync(task.Source, slot, ct);
                Console.Out.WriteLine(more.Count == 0 ? $"No slot {slot} on the source." : $"Dropped {string.Join(" and ", more)}.");
            }
            foreach (var other in await SlotCleanup.OtherSlotsAsync(task.Source, task.TaskName, ct))
            {
                var advice = other.Active ? "stop its task first." : $"if its task is gone, drop it with: pgshift cleanup ... --drop-slot {other.Name}";
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"other    slot {other.Name} of PgShift on the source: {(other.Active ? "in use by a running process" : "not in use")}, keeps {other.RetainedBytes / 1048576.0:N1} MB of WAL; {advice}"));
            }
            return ExitCodes.Success;
        });
        return cmd;
    }
}
