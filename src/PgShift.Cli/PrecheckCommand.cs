using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using PgShift.Precheck;
using PgShift.Settings;

namespace PgShift.Cli;

internal static class PrecheckCommand
{
    public static Command Create(CommonOptions common)
    {
        var types = new Option<string>("--types") { Description = "Migration types the task will run: schema, full, incremental (comma-separated).", DefaultValueFactory = _ => "schema,full,incremental" };
        var cmd = new Command("precheck", """
            Check both servers before a migration: connectivity, versions, wal_level, slots and WAL senders,
            privileges, replica identities, target conflicts, extensions. Changes nothing on either server.
            Exit code 0 when no check failed, 1 when one did, 2 on a usage error.

            Examples:
              pgshift precheck --source postgres://app@old-db/app --target postgres://app@new-db/app
              pgshift precheck --task-file task.yaml --json
            """);
        var reverse = WayBackTask.Option("Also check what the way back needs ('pgshift cutover --reverse'): the target as a source, the source taking rows without the excluded columns.");
        common.AddTo(cmd);
        cmd.Options.Add(common.Json);
        cmd.Options.Add(types);
        cmd.Options.Add(reverse);
        cmd.SetAction(async (pr, ct) =>
        {
            var task = common.Resolve(pr, commandFlags: given =>
            {
                given.Types = [.. SettingValues.Types(pr.GetValue(types) ?? "schema,full,incremental")];
                given.Reverse = pr.GetValue(reverse) ? true : given.Reverse;
            });
            var report = await Tasks.SchemaPrecheck.Runner(task.Settings).RunAsync(new PrecheckOptions(task.Settings), ct);
            if (pr.GetValue(common.Json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new { passed = report.Passed, checks = report.Checks }, JsonOutput.Options));
            }
            else
            {
                Render(report);
            }
            return report.Passed ? ExitCodes.Success : ExitCodes.Failed;
        });
        return cmd;
    }

    private static void Render(PrecheckReport report)
    {
        foreach (var c in report.Checks)
        {
            var word = c.Status switch { CheckStatus.Passed => "passed ", CheckStatus.Warning => "warning", _ => "FAILED " };
            Console.Out.WriteLine($"{word}  {c.Id,-34} {c.Message}");
            if (c.Status != CheckStatus.Passed && c.Fix is not null)
            {
                Console.Out.WriteLine($"{"",9}  {"",-34} fix: {c.Fix}");
            }
        }
        var failed = report.Checks.Count(c => c.Status == CheckStatus.Failed);
        var warnings = report.Checks.Count(c => c.Status == CheckStatus.Warning);
        Console.Out.WriteLine();
        Console.Out.WriteLine(failed == 0
            ? $"Precheck passed ({Plural.Of(warnings, "warning")})."
            : $"Precheck failed: {Plural.Of(failed, "check")} failed, {Plural.Of(warnings, "warning")}. Fix the failures above and run it again.");
    }
}

internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
