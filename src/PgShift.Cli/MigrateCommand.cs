using System.CommandLine;
using Microsoft.Extensions.Logging;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.State;
using PgShift.Schema;

namespace PgShift.Cli;

internal static class MigrateCommand
{
    public static Command Create(CommonOptions common)
    {
        var types = new Option<string>("--types") { Description = "What to migrate: schema, full, incremental (comma-separated).", DefaultValueFactory = _ => "schema,full,incremental" };
        var splitMb = new Option<double?>("--split-threshold-mb") { Description = "Tables larger than this (MB on disk) are copied in ranges by several workers (default 1024)." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log each step." };
        var jobs = new Option<int?>("--jobs", "-j") { Description = "Parallel connections for copying and building indexes (default: cores, at least 2)." };
        var cmd = new Command("migrate", """
            Run the task: schema (pre-data), full copy, post-data (keys, indexes, foreign keys, triggers), then
            stream changes until cutover. This version runs the schema and full types (the change stream is not
            built yet): --types schema creates the pre-data and post-data objects, --types schema,full copies the
            data between them. A killed run resumes: tables already copied are skipped.

            Examples:
              pgshift migrate --types schema --source postgres://app@old-db/app --target postgres://app@new-db/app
              pgshift migrate --types schema,full --jobs 4 --task-file task.yaml --exclude-column public.users.ssn
            """);
        common.AddTo(cmd);
        cmd.Options.Add(types);
        cmd.Options.Add(jobs);
        cmd.Options.Add(splitMb);
        cmd.Options.Add(verbose);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr);
            var typesText = pr.GetResult(types) is { Implicit: false } || task.File.Types is null ? pr.GetValue(types)! : string.Join(',', task.File.Types);
            var typeList = MigrationTypes.Parse(typesText);
            if (typeList.Contains("incremental"))
            {
                throw new UsageException("Incremental migration (the change stream) is not built yet in this version of PgShift.",
                    "Run 'pgshift migrate --types schema,full' for a one-time copy (schema, data, then keys and indexes).");
            }
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
                .SetMinimumLevel(pr.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning));
            var logger = loggerFactory.CreateLogger("pgshift");
            var jobCount = pr.GetValue(jobs) ?? task.File.Jobs ?? Math.Max(2, Environment.ProcessorCount);
            var options = new SchemaMigrationOptions
            {
                Source = task.Source,
                Target = task.Target,
                Selection = task.Selection,
                ExcludedColumns = task.ExcludedColumns,
                Mapping = task.Mapping,
                Jobs = jobCount,
                TaskName = task.TaskName,
            };
            var migrator = new SchemaMigrator(logger);
            var started = DateTime.UtcNow;
            var reports = new List<SchemaReport>();
            await using var state = await ConnectionOpener.OpenAsync(task.Target, "pgshift state", ct);
            async Task Phase(string phase) => await TaskState.SetPhaseAsync(state, task.TaskName, task.Source.ToString(), phase, ct);
            FullCopyResult? copy = null;
            try
            {
                if (typeList.Contains("schema"))
                {
                    await Phase("schema");
                    Console.Out.WriteLine("schema: creating objects before the data");
                    reports.Add(await migrator.CreatePreDataAsync(options, ct));
                }
                if (typeList.Contains("full"))
                {
                    await Phase("copy");
                    var copier = new FullCopier(logger);
                    var renderer = new CopyProgressRenderer(copier.Progress, Console.Out, !Console.IsOutputRedirected);
                    renderer.Start();
                    try
                    {
                        copy = await copier.RunAsync(new FullCopyOptions
                        {
                            Source = task.Source,
                            Target = task.Target,
                            TaskName = task.TaskName,
                            Selection = task.Selection,
                            ExcludedColumns = task.ExcludedColumns,
                            Mapping = task.Mapping,
                            Jobs = jobCount,
                            SplitThresholdBytes = (long)((pr.GetValue(splitMb) ?? 1024) * 1048576),
                        }, ct);
                    }
                    finally
                    {
                        await renderer.DisposeAsync();
                    }
                }
                if (typeList.Contains("schema"))
                {
                    await Phase("post-data");
                    Console.Out.WriteLine("schema: building keys, indexes, foreign keys and triggers");
                    reports.Add(await migrator.CreatePostDataAsync(options, ct));
                }
                await Phase("finished");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The failure is kept in the task state for `pgshift status`; a rerun resumes where this one stopped.
                try
                {
                    await TaskState.RecordErrorAsync(state, task.TaskName, ex.Message, CancellationToken.None);
                }
                catch (Exception recordFailure) when (recordFailure is Npgsql.NpgsqlException or InvalidOperationException)
                {
                    logger.LogWarning("Could not record the error in the task state: {Message}", Redactor.Redact(recordFailure.Message));
                }
                throw;
            }
            foreach (var (obj, reason) in reports.SelectMany(r => r.Skipped).Distinct())
            {
                Console.Out.WriteLine($"skipped  {obj}: {reason}");
            }
            foreach (var w in reports.SelectMany(r => r.Warnings).Distinct())
            {
                Console.Out.WriteLine($"warning  {w}");
            }
            var seconds = (DateTime.UtcNow - started).TotalSeconds;
            if (reports.Count > 0)
            {
                Console.Out.WriteLine($"Schema of task {task.TaskName}: {reports.Sum(r => r.Created.Count)} objects created " +
                    $"({reports.Sum(r => r.AlreadyPresent.Count)} already present, {reports.Sum(r => r.Skipped.Count)} skipped).");
            }
            if (copy is not null)
            {
                Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Data of task {task.TaskName}: {copy.Tables} tables copied ({copy.TablesSkipped} already copied), {copy.Rows:N0} rows, {copy.Bytes / 1048576.0:0.0} MB in {copy.Seconds:0.0} s ({(copy.Seconds > 0 ? copy.Bytes / 1048576.0 / copy.Seconds : 0):0.0} MB/s)."));
            }
            Console.Out.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Task {task.TaskName} finished in {seconds:0.0} s."));
            return ExitCodes.Success;
        });
        return cmd;
    }
}
