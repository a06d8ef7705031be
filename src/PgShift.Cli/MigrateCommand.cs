using System.CommandLine;
using Microsoft.Extensions.Logging;
using PgShift.Schema;

namespace PgShift.Cli;

internal static class MigrateCommand
{
    public static Command Create(CommonOptions common)
    {
        var types = new Option<string>("--types") { Description = "What to migrate: schema, full, incremental (comma-separated).", DefaultValueFactory = _ => "schema,full,incremental" };
        var jobs = new Option<int?>("--jobs", "-j") { Description = "Parallel connections for copying and building indexes (default: cores, at least 2)." };
        var cmd = new Command("migrate", """
            Run the task: schema (pre-data), full copy, post-data (keys, indexes, foreign keys, triggers), then
            stream changes until cutover. This version runs the schema type only (--types schema), which creates
            both the pre-data and the post-data objects.

            Examples:
              pgshift migrate --types schema --source postgres://app@old-db/app --target postgres://app@new-db/app
              pgshift migrate --types schema --task-file task.yaml --exclude-column public.users.ssn
            """);
        common.AddTo(cmd);
        cmd.Options.Add(types);
        cmd.Options.Add(jobs);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr);
            var typesText = pr.GetResult(types) is { Implicit: false } || task.File.Types is null ? pr.GetValue(types)! : string.Join(',', task.File.Types);
            var typeList = MigrationTypes.Parse(typesText);
            if (typeList.Contains("full") || typeList.Contains("incremental"))
            {
                throw new UsageException("Full data and incremental migration are not built yet in this version of PgShift.",
                    "Run 'pgshift migrate --types schema' to create the schema; copy the data with another tool for now.");
            }
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information));
            var logger = loggerFactory.CreateLogger("pgshift");
            var options = new SchemaMigrationOptions
            {
                Source = task.Source,
                Target = task.Target,
                Selection = task.Selection,
                ExcludedColumns = task.ExcludedColumns,
                Mapping = task.Mapping,
                Jobs = pr.GetValue(jobs) ?? task.File.Jobs ?? Math.Max(2, Environment.ProcessorCount),
                TaskName = task.TaskName,
            };
            var migrator = new SchemaMigrator(logger);
            var started = DateTime.UtcNow;
            var pre = await migrator.CreatePreDataAsync(options, ct);
            var post = await migrator.CreatePostDataAsync(options, ct);
            foreach (var (obj, reason) in pre.Skipped)
            {
                Console.Out.WriteLine($"skipped  {obj}: {reason}");
            }
            foreach (var w in pre.Warnings.Concat(post.Warnings))
            {
                Console.Out.WriteLine($"warning  {w}");
            }
            Console.Out.WriteLine($"Schema of task {task.TaskName}: {pre.Created.Count} objects before the data, {post.Created.Count} after it " +
                $"({pre.AlreadyPresent.Count + post.AlreadyPresent.Count} already present, {pre.Skipped.Count} skipped) in {(DateTime.UtcNow - started).TotalSeconds:0.0} s.");
            return ExitCodes.Success;
        });
        return cmd;
    }
}
