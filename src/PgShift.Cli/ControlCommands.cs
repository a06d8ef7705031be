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
        var reverse = WayBackTask.Option("Prepare the way back (see 'pgshift fallback'): once caught up, create a publication and slot on the target "
            + "and the reverse task's state on the source, so that 'pgshift migrate --reverse' can stream the target's changes back. Implies --fence: "
            + "the source stays read-only for everyone but PgShift's reverse stream. Also reverse: true in the task file.");
        common.AddTo(cmd);
        cmd.Options.Add(common.RetryWindowOption);
        cmd.Options.Add(common.Verbose);
        monitor.AddTo(cmd);
        cmd.Options.Add(noVerify);
        cmd.Options.Add(timeout);
        cmd.Options.Add(fence);
        cmd.Options.Add(reverse);
        cmd.SetAction(async (pr, ct) =>
        {
            var resolved = common.Resolve(pr, commandFlags: given =>
            {
                given.Reverse = pr.GetValue(reverse) ? true : given.Reverse;
                monitor.Fold(pr, given);
            });
            var task = await StoredSettings.ApplyAsync(resolved, ct);
            var limit = pr.GetValue(timeout) is { } t ? SettingValues.Duration(t, "Timeout") : (TimeSpan?)null;
            var wayBack = task.Settings.PrepareWayBack;
            if (wayBack && !await WayBackPossibleAsync(task, ct))
            {
                return ExitCodes.Failed;
            }
            // A task cut over already is not fenced again for the way back: the application may be back on the source.
            var finished = wayBack && await FinishedAsync(task, ct);
            var fenceNow = pr.GetValue(fence) || wayBack && !finished;
            var code = await FencedAsync(fenceNow, task.Source, "source", () => CutoverAsync(pr, common, task, limit, "cutover", ct), ct);
            if (code != ExitCodes.Success)
            {
                return code;
            }
            // Verified first: the way back sets aside, on the source, what would fire for its applied changes (ALWAYS
            // triggers, identities GENERATED ALWAYS), which verify would report as differences.
            if (!pr.GetValue(noVerify))
            {
                code = await VerifyAfterAsync(task, ct);
            }
            if (wayBack)
            {
                using var loggerFactory = Logging.Create(pr.GetValue(common.Verbose));
                var (lsn, created) = await new WayBackSteps(loggerFactory.CreateLogger("pgshift")).PrepareAsync(task.Settings, ct);
                if (created && finished)
                {
                    Console.Out.WriteLine("warning  the way back is prepared now, not at the cutover: writes made on the target since the cutover (if the application uses it already) do not go back.");
                }
                Console.Out.WriteLine($"way back: slot {TaskName.SlotName(task.TaskName)} on the target from {lsn}, the reverse task's state on the source; "
                    + $"'pgshift migrate --reverse --task {task.TaskName}' streams the target's changes back, 'pgshift fallback' switches back");
            }
            return code;
        });
        return cmd;
    }

    public static Command Fallback(CommonOptions common)
    {
        var cmd = new Command("fallback", """
            Switch back to the old source after 'pgshift cutover --reverse': wait until the reverse stream
            ('pgshift migrate --reverse', or this command's own) has applied every change of the target to the source
            (stop the application's writes to the target first, or use --fence), sync every sequence and large object back,
            mark the way back finished, lift the source's fence, and verify. Give the task's own --source and --target.

            Example:
              pgshift fallback --fence --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var noVerify = new Option<bool>("--no-verify") { Description = "Do not verify the source against the target as the last step." };
        var timeout = new Option<string?>("--timeout")
        {
            Description = "Give up when the source has not caught up within this long (e.g. 10m, 90s): the reverse stream goes on, the exit code is 1.",
        };
        var fence = new Option<bool>("--fence")
        {
            Description = "First make the target database read-only and end the sessions connected to it, so no write is left behind there; "
                + "lifted again if the fallback does not finish.",
        };
        common.AddTo(cmd, selection: false);
        cmd.Options.Add(common.RetryWindowOption);
        cmd.Options.Add(common.Verbose);
        cmd.Options.Add(noVerify);
        cmd.Options.Add(timeout);
        cmd.Options.Add(fence);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = await WayBackTask.ResolveAsync(common.Resolve(pr), ct);
            var limit = pr.GetValue(timeout) is { } t ? SettingValues.Duration(t, "Timeout") : (TimeSpan?)null;
            // The reverse task's source is the forward task's target: that is the server fenced now.
            var code = await FencedAsync(pr.GetValue(fence), task.Source, "target", () => CutoverAsync(pr, common, task, limit, "fallback", ct), ct);
            if (code != ExitCodes.Success)
            {
                return code;
            }
            await SourceFence.UnfenceAsync(task.Target, CancellationToken.None);
            Console.Out.WriteLine("fence: the source database takes writes again: the application can move back to it");
            return pr.GetValue(noVerify) ? code : await VerifyAfterAsync(task, ct);
        });
        return cmd;
    }

    private static async Task<bool> FinishedAsync(ResolvedTask task, CancellationToken ct)
    {
        await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift cutover", ct);
        return (await TaskStatusReport.LoadAsync(target, task.TaskName, ct))?.Phase == TaskPhase.Finished;
    }

    /// <summary>The way back's slot and publication on the target, and with --purge its state on the source, when the source holds it.</summary>
    private static async Task CleanupWayBackAsync(ResolvedTask task, bool purge, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(task.Source.ThroughFence(), "pgshift cleanup", ct);
        if (await TaskStatusReport.LoadAsync(source, task.TaskName, ct) is not { } reverse)
        {
            return;
        }
        if (reverse.Phase != TaskPhase.Finished)
        {
            Console.Out.WriteLine($"warning  the way back of task {task.TaskName} is not finished (phase {reverse.Phase.Text()}): without its slot it cannot stream again.");
        }
        var dropped = await SlotCleanup.CleanupAsync(task.Target, task.TaskName, ct);
        Console.Out.WriteLine(dropped.Count == 0 ? $"Nothing of the way back of task {task.TaskName} left on the target." : $"Dropped the way back's {string.Join(" and ", dropped)} on the target.");
        if (purge)
        {
            await TaskState.PurgeAsync(source, task.TaskName, ct);
            Console.Out.WriteLine($"Removed the way back of task {task.TaskName} from the source's pgshift schema.");
        }
    }

    /// <summary>The way back's own precheck (the target must be able to replicate, the source to take rows without the excluded columns).</summary>
    private static async Task<bool> WayBackPossibleAsync(ResolvedTask task, CancellationToken ct)
    {
        var report = await Precheck.PrecheckRunner.RunOnlyAsync(new Precheck.PrecheckOptions(task.Settings), [new Precheck.WayBackCheck()], ct);
        foreach (var failed in report.Checks.Where(c => c.Status == Precheck.CheckStatus.Failed))
        {
            Console.Error.WriteLine($"error: [{failed.Id}] {failed.Message}");
            Console.Error.WriteLine($"fix: {failed.Fix}");
        }
        return report.Passed;
    }

    /// <summary>
    /// Runs <paramref name="run"/> with <paramref name="server"/> fenced (when <paramref name="fence"/>): the fence stays when it
    /// succeeds, and is lifted when it does not.
    /// </summary>
    private static async Task<int> FencedAsync(bool fence, ConnectionSpec server, string side, Func<Task<int>> run, CancellationToken ct)
    {
        if (!fence)
        {
            return await run();
        }
        var ended = await SourceFence.FenceAsync(server, ct);
        Console.Out.WriteLine($"fence: the {side} database is read-only for new transactions; {ended} session(s) connected to it were ended");
        int code;
        try
        {
            code = await run();
        }
        catch
        {
            await SourceFence.UnfenceAsync(server, CancellationToken.None);
            Console.Out.WriteLine($"fence: lifted (the {side} takes writes again; the switch did not finish)");
            throw;
        }
        if (code == ExitCodes.Success)
        {
            Console.Out.WriteLine($"fence: the {side} database stays read-only; ALTER DATABASE ... RESET default_transaction_read_only lifts it");
        }
        else
        {
            await SourceFence.UnfenceAsync(server, CancellationToken.None);
            Console.Out.WriteLine($"fence: lifted (the {side} takes writes again; the switch did not finish)");
        }
        return code;
    }

    private static async Task<int> VerifyAfterAsync(ResolvedTask task, CancellationToken ct)
    {
        Console.Out.WriteLine("verify: comparing every table of the source and the target");
        var report = await new Verify.Verifier().VerifyAsync(VerifyCommand.Options(task), ct);
        VerifyCommand.Print(report, json: false);
        return report.Equal ? ExitCodes.Success : ExitCodes.Failed;
    }

    private static async Task<int> CutoverAsync(ParseResult pr, CommonOptions common, ResolvedTask task, TimeSpan? limit, string command, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (limit is { } l)
        {
            timer.CancelAfter(l);
        }
        int TimedOut()
        {
            Console.Error.WriteLine($"error: the {(task.Settings.WayBack ? "source" : "target")} did not catch up within {limit} (writes to the {(task.Settings.WayBack ? "target" : "source")} still going on?); task {task.TaskName} goes on streaming.");
            Console.Error.WriteLine($"fix: Stop the application's writes (or use --fence), then run 'pgshift {command}' again.");
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
        var reverse = WayBackTask.Option("Stop the task's way back ('pgshift migrate --reverse'); needs --source, where its state is.");
        common.AddTo(cmd, selection: false);
        cmd.Options.Add(reverse);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, requireSource: pr.GetValue(reverse));
            var state = WayBackTask.StateServer(task, pr.GetValue(reverse));
            await using var target = await ConnectionOpener.OpenAsync(state, "pgshift stop", ct);
            _ = await UnknownTask.RequireAsync(target, state, task.TaskName, "'pgshift status --task NAME' shows a task.", ct);
            if (!await TaskLock.IsHeldAsync(target, task.TaskName, ct))
            {
                Console.Out.WriteLine($"No process is streaming task {task.TaskName}; nothing to stop.");
                return ExitCodes.Success;
            }
            await TaskRequests.RequestStopAsync(target, task.TaskName, ct);
            await TaskWatch.WaitForPhaseAsync(target, task.TaskName, [TaskPhase.Stopped, TaskPhase.Finished], null, ct);
            Console.Out.WriteLine($"Task {task.TaskName} stopped; 'pgshift migrate{(pr.GetValue(reverse) ? " --reverse" : "")}' resumes it.");
            return ExitCodes.Success;
        });
        return cmd;
    }

    public static Command Cleanup(CommonOptions common)
    {
        var cmd = new Command("cleanup", """
            Drop the task's replication slot and publication on the source, so the source keeps no WAL for it, and
            those of its way back on the target (after 'pgshift cutover --reverse'). Run it after the cutover (or the
            fallback); on an unfinished task it ends the task's ability to stream.
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
            // A server fenced by a cutover or a fallback is read-only for new transactions: these are PgShift's own.
            await using var target = await ConnectionOpener.OpenAsync(task.Target.ThroughFence(), "pgshift cleanup", ct);
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
            await CleanupWayBackAsync(task, pr.GetValue(purge), ct);
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
