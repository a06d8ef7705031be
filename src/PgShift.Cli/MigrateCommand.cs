using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Cli.Monitoring;
using PgShift.Connections;
using PgShift.Progress;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;
using PgShift.Tasks;

namespace PgShift.Cli;

internal static class MigrateCommand
{
    public static Command Create(CommonOptions common)
    {
        var types = new Option<string>("--types") { Description = "What to migrate: schema, full, incremental (comma-separated).", DefaultValueFactory = _ => "schema,full,incremental" };
        // Read as text and checked here, so a bad value gets a message for a person rather than the parser's type names.
        var jobs = new Option<string?>("--jobs", "-j") { Description = "Parallel connections for copying and building indexes (default: cores, at least 2)." };
        var splitMb = new Option<string?>("--split-threshold-mb") { Description = "Tables larger than this (MB on disk) are copied in ranges by several workers (default 1024)." };
        var maxCopyRate = new Option<string?>("--max-copy-rate")
        {
            Description = "Bytes a second the copy may read from the source, all workers together: e.g. 50MB, 500kB (kB = 1024 bytes); 0 for no limit. 'pgshift throttle' changes it while the task runs.",
        };
        var maxApplyRate = new Option<string?>("--max-apply-rate")
        {
            Description = "Changes a second the stream may apply to the target, e.g. 1000; 0 for no limit. 'pgshift throttle' changes it while the task runs.",
        };
        var monitor = new MonitorOptions();
        var skipSchemaChanges = new Option<long[]>("--skip-schema-change")
        {
            Description = "Go on past the source's schema change of this number (the task stopped at it, and you made it on the target by hand). Repeatable.",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var conflicts = new Option<string>("--on-conflict") { Description = "When a change does not fit the target (row missing, key taken): error (stop the task) or ignore.", DefaultValueFactory = _ => "error" };
        var cmd = new Command("migrate", """
            Run the task: schema before the data, full copy from one snapshot, keys/indexes/foreign keys/triggers,
            then stream changes (INSERT/UPDATE/DELETE/TRUNCATE) until 'pgshift cutover' (or 'pgshift stop').
            A killed or failed run started again resumes where it stopped.
            Exit code 0 when the task finished or was stopped on request, 1 when its precheck or the task failed, 2 on a
            usage or runtime error. With several databases: the worst of their exit codes.

            Examples:
              pgshift migrate --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
              pgshift migrate --types schema,full --jobs 4 --task-file task.yaml --exclude-column public.users.ssn
              pgshift migrate --reverse --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
            """);
        var reverse = WayBackTask.Option("Run the task's way back (after 'pgshift cutover --reverse'): stream the target's changes to the source, "
            + "under the source's names, until 'pgshift fallback' (or 'pgshift stop --reverse'). Give the task's own --source and --target.");
        common.AddTo(cmd);
        cmd.Options.Add(common.RetryWindowOption);
        cmd.Options.Add(reverse);
        cmd.Options.Add(types);
        cmd.Options.Add(jobs);
        cmd.Options.Add(splitMb);
        cmd.Options.Add(conflicts);
        cmd.Options.Add(maxCopyRate);
        cmd.Options.Add(maxApplyRate);
        cmd.Options.Add(skipSchemaChanges);
        monitor.AddTo(cmd);
        cmd.Options.Add(common.Verbose);
        cmd.SetAction(async (pr, ct) =>
        {
            var resolved = common.Resolve(pr, commandFlags: given =>
            {
                if (pr.GetResult(types) is { Implicit: false } || given.Types is null)
                {
                    given.Types = [.. SettingValues.Types(pr.GetValue(types)!)];
                }
                if (pr.GetValue(jobs) is { } j)
                {
                    given.Jobs = SettingValues.Jobs(j, "--jobs");
                }
                if (pr.GetValue(splitMb) is { } split)
                {
                    given.SplitThresholdMb = SettingValues.SplitThresholdMb(split, "--split-threshold-mb");
                }
                if (pr.GetResult(conflicts) is { Implicit: false })
                {
                    given.OnConflict = pr.GetValue(conflicts);
                }
                if (pr.GetValue(maxCopyRate) is { } copyRate)
                {
                    given.MaxCopyRate = SettingValues.ByteRate(copyRate, "--max-copy-rate").ToString(CultureInfo.InvariantCulture);
                }
                if (pr.GetValue(maxApplyRate) is { } applyRate)
                {
                    given.MaxApplyRate = SettingValues.ChangeRate(applyRate, "--max-apply-rate").ToString(CultureInfo.InvariantCulture);
                }
                monitor.Fold(pr, given);
            });
            // A resumed task keeps its selection; jobs, split threshold and conflict policy given here win over its own.
            var task = pr.GetValue(reverse) ? await WayBackTask.ResolveAsync(resolved, ct) : await StoredSettings.ApplyAsync(resolved, ct);
            using var loggerFactory = Logging.Create(pr.GetValue(common.Verbose));
            var logger = loggerFactory.CreateLogger("pgshift");
            var options = task.Settings with
            {
                Apply = CommonOptions.ApplyFromEnvironment(),
                SkipSchemaChanges = (pr.GetValue(skipSchemaChanges) ?? []).ToHashSet(),
            };
            // SIGTERM or Ctrl-C stops the task as 'pgshift stop' does: at a transaction boundary, resumable; a second signal cancels.
            using var gentleStop = Signals.AddGentleStop(() =>
            {
                Console.Error.WriteLine($"Stopping task {options.TaskName} where it stands, as 'pgshift stop' does (a second signal cancels at once).");
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift stop", CancellationToken.None);
                        if (!await TaskRequests.RequestStopAsync(target, options.TaskName, CancellationToken.None))
                        {
                            await Signals.Cancel.CancelAsync();
                        }
                    }
                    catch (Exception ex) when (ex is NpgsqlException or PgShiftException or InvalidOperationException)
                    {
                        await Signals.Cancel.CancelAsync();
                    }
                });
                return true;
            });
            return await RunAsync(new MigrationTask(logger), options, cutover: false, ct);
        });
        return cmd;
    }

    /// <summary>Runs the task with its live display; shared by migrate and cutover.</summary>
    internal static async Task<int> RunAsync(MigrationTask migration, TaskSettings options, bool cutover, CancellationToken ct)
    {
        // Several tasks side by side share the console: each adds lines, none redraws in place.
        var terminal = !Console.IsOutputRedirected && !TaskConsole.Shared;
        CopyProgressRenderer? copyRenderer = null;
        StreamRenderer? streamRenderer = null;
        LargeObjectRenderer? largeObjectRenderer = null;
        TaskPhase? phase = null;
        TaskProgress? last = null;
        // Called one snapshot at a time, as the task enters a phase and twice a second while it runs.
        migration.ProgressChanged += p =>
        {
            last = p;
            if (p.Phase is { } entered && entered != phase)
            {
                phase = entered;
                if (entered == TaskPhase.Stream)
                {
                    DatabaseOptions.Streaming();
                }
                // A renderer's last drawing goes before the phase's line: on a terminal it redraws in place.
                copyRenderer?.Finish(p.Copy);
                copyRenderer = null;
                streamRenderer?.Finish(p.Stream);
                streamRenderer = null;
                Console.Out.WriteLine(entered switch
                {
                    TaskPhase.Schema => "schema: creating objects before the data",
                    TaskPhase.Copy => "copy: copying every table from one snapshot",
                    TaskPhase.PostData => "schema: building keys, indexes, foreign keys and triggers",
                    TaskPhase.Stream when options.WayBack => cutover ? "stream: applying the target's changes to the source until caught up, for the fallback"
                        : "stream: applying the target's changes to the source until 'pgshift fallback' (or 'pgshift stop --reverse')",
                    TaskPhase.Stream => cutover ? "stream: applying changes until caught up, for the cutover" : "stream: applying changes until 'pgshift cutover' (or 'pgshift stop')",
                    TaskPhase.Cutover when options.WayBack => "fallback: caught up; synchronising large objects and syncing sequences back to the source",
                    TaskPhase.Cutover => "cutover: caught up; copying unlogged tables again, synchronising large objects, syncing sequences, finishing the schema",
                    _ => $"task {options.TaskName}: {entered.Text()}",
                });
                copyRenderer = entered == TaskPhase.Copy ? new CopyProgressRenderer(Console.Out, terminal) : null;
                largeObjectRenderer?.Finish(p.Copy?.LargeObjects);
                largeObjectRenderer = entered == TaskPhase.Cutover && options.LargeObjects ? new LargeObjectRenderer(Console.Out, terminal) : null;
                streamRenderer = entered == TaskPhase.Stream ? new StreamRenderer(Console.Out, terminal) : null;
            }
            copyRenderer?.Show(p.Copy);
            streamRenderer?.Show(p.Stream);
            largeObjectRenderer?.Show(p.Copy?.LargeObjects);
        };
        await using var monitor = options.Monitor is { } endpoint ? MonitorServer.Start(endpoint, migration.CurrentProgress) : null;
        if (monitor is not null)
        {
            migration.ProgressChanged += monitor.Observe;
            Console.Out.WriteLine($"metrics: {monitor.Url}metrics; status page: {monitor.Url}");
        }
        var started = DateTime.UtcNow;
        MigrationResult result;
        try
        {
            result = await migration.RunAsync(options, cutover, ct);
        }
        finally
        {
            // The task has published its last snapshot.
            copyRenderer?.Finish(last?.Copy);
            streamRenderer?.Finish(last?.Stream);
            largeObjectRenderer?.Finish(last?.Copy?.LargeObjects);
        }
        if (result.AlreadyFinished)
        {
            Console.Out.WriteLine($"Task {options.TaskName} is finished already; nothing to do.");
            return ExitCodes.Success;
        }
        foreach (var (obj, reason) in result.Schema.SelectMany(r => r.Skipped).Distinct())
        {
            Console.Out.WriteLine($"skipped  {obj}: {reason}");
        }
        foreach (var w in result.Schema.SelectMany(r => r.Warnings).Distinct())
        {
            Console.Out.WriteLine($"warning  {w}");
        }
        if (result.Schema.Count > 0)
        {
            Console.Out.WriteLine($"Schema of task {options.TaskName}: {Plural.Of(result.Schema.Sum(r => r.Created.Count), "object")} created " +
                $"({result.Schema.Sum(r => r.AlreadyPresent.Count)} already present, {result.Schema.Sum(r => r.Skipped.Count)} skipped).");
        }
        if (result.Copy is { } copy)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Data of task {options.TaskName}: {Plural.Of(copy.Tables, "table")} copied ({copy.TablesSkipped} already copied), {Plural.Of(copy.Rows, "row")}, {copy.Bytes / 1048576.0:0.0} MB in {copy.Seconds:0.0} s ({(copy.Seconds > 0 ? copy.Bytes / 1048576.0 / copy.Seconds : 0):0.0} MB/s)."));
        }
        if (result.Copy?.LargeObjects is { } lobs)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Large objects of task {options.TaskName}: {lobs.Created:N0} copied ({lobs.AlreadyPresent:N0} already on the target), {lobs.Bytes / 1048576.0:0.0} MB in {lobs.Seconds:0.0} s ({(lobs.Seconds > 0 ? lobs.Bytes / 1048576.0 / lobs.Seconds : 0):0.0} MB/s)."));
        }
        if (result.Stream is not null && last?.Stream is { } p)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Stream of task {options.TaskName}: {Plural.Of(p.ChangesApplied, "change")} in {Plural.Of(p.TransactionsApplied, "transaction")} applied, up to {p.AppliedLsn}."));
        }
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        Console.Out.WriteLine(result.Stopped
            ? $"Task {options.TaskName} stopped on request after {seconds:0.0} s; 'pgshift migrate' resumes it."
            : string.Create(CultureInfo.InvariantCulture, $"Task {options.TaskName} finished in {seconds:0.0} s."));
        return ExitCodes.Success;
    }
}

internal static class Logging
{
    public static ILoggerFactory Create(bool verbose) => LoggerFactory.Create(b => b
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        })
        .SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning));
}
