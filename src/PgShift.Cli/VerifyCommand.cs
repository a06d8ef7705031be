using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PgShift.Connections;
using PgShift.Verify;

namespace PgShift.Cli;

internal static class VerifyCommand
{
    public static Command Create(CommonOptions common)
    {
        var cmd = new Command("verify", """
            Prove the target holds the same data as the source: every selected table compared by row count and a
            checksum of every column's value per chunk of key range (name mapping and excluded columns applied),
            keys, indexes and triggers compared by name, sequences compared once the task has finished. Works while
            the change stream runs: a chunk that differs is checked again before it is reported.
            Exit code 0 when equal, 1 when a difference remains, 2 on error.

            Examples:
              pgshift verify --source postgres://app@old-db/app --target postgres://app@new-db/app --task app
              pgshift verify --task-file task.yaml --json
            """);
        var reverse = WayBackTask.Option("Verify the task's way back: the target's tables against the source's, under their source names.");
        common.AddTo(cmd);
        cmd.Options.Add(common.Json);
        cmd.Options.Add(reverse);
        cmd.SetAction(async (pr, ct) =>
        {
            var resolved = common.Resolve(pr);
            if (pr.GetValue(reverse))
            {
                var wayBack = await WayBackTask.ResolveAsync(resolved, ct);
                var back = await new Verifier().VerifyAsync(Options(wayBack), ct);
                Print(back, pr.GetValue(common.Json));
                return back.Equal ? ExitCodes.Success : ExitCodes.Failed;
            }
            if (resolved.Named)
            {
                // A task named on purpose must exist: verifying the command line's selection instead would answer another question.
                await using var target = await ConnectionOpener.OpenAsync(resolved.Target, "pgshift verify", ct);
                await UnknownTask.RequireAsync(target, resolved.Target, resolved.TaskName, "without --task, verify compares the tables the command line selects.", ct);
            }
            // A task's own selection is the one it started with.
            var task = await StoredSettings.ApplyAsync(resolved, ct);
            var report = await new Verifier().VerifyAsync(Options(task), ct);
            Print(report, pr.GetValue(common.Json));
            return report.Equal ? ExitCodes.Success : ExitCodes.Failed;
        });
        return cmd;
    }

    internal static VerifyOptions Options(ResolvedTask task) => new(task.Settings);

    internal static void Print(VerifyReport report, bool json)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                equal = report.Equal,
                seconds = report.Seconds,
                tables = report.Tables.Select(t => new { table = t.Table, targetTable = t.TargetTable, equal = t.Equal, sourceRows = t.SourceRows, targetRows = t.TargetRows, chunks = t.Chunks, differences = t.Differences }),
                missingObjects = report.MissingObjects,
                extraObjects = report.ExtraObjects,
                sequences = report.Sequences,
                largeObjects = report.LargeObjects,
                extensionConfigTables = report.ConfigTables,
            }, JsonOutput.Options));
            return;
        }
        foreach (var t in report.Tables.OrderBy(t => t.Table, StringComparer.Ordinal))
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(t.Equal ? "equal   " : "DIFFERS ")} {t.Table,-40} {t.SourceRows,12:N0} rows on the source, {t.TargetRows,12:N0} on the target ({Plural.Of(t.Chunks, "chunk")})"));
            foreach (var d in t.Differences)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"         {d.Range}: {d.SourceRows:N0} rows on the source, {d.TargetRows:N0} on the target{(d.ExampleKeys.Count > 0 ? "; e.g. " + string.Join(", ", d.ExampleKeys) : "")}"));
            }
        }
        foreach (var o in report.MissingObjects)
        {
            Console.Out.WriteLine($"MISSING  {o} (on the source, not on the target)");
        }
        foreach (var o in report.ExtraObjects)
        {
            Console.Out.WriteLine($"EXTRA    {o} (on the target, not on the source)");
        }
        foreach (var s in report.Sequences.Where(s => s.State != "equal"))
        {
            Console.Out.WriteLine($"{(s.Equal ? "note    " : "DIFFERS ")} sequence {s.Sequence}: source {s.SourceValue}, target {s.TargetValue?.ToString(CultureInfo.InvariantCulture) ?? "-"} ({s.State})");
        }
        foreach (var c in report.ConfigTables ?? [])
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(c.State == "equal" ? "equal   " : c.Equal ? "note    " : "DIFFERS ")} {c.Table,-40} {c.SourceRows,12:N0} configuration rows of extension {c.Extension} on the source, {c.TargetRows,12:N0} on the target{(c.State == "equal" ? "" : $" ({c.State})")}"));
        }
        if (report.LargeObjects is { } lobs)
        {
            PrintLargeObjects(lobs);
        }
        var lobsEqual = report.LargeObjects is { } all ? $", {Plural.Of(all.SourceObjects, "large object")}" : "";
        var lobsDiffer = report.LargeObjects is { Equal: false } differing ? $", {Plural.Of(differing.DifferenceCount, "large object difference")}" : "";
        Console.Out.WriteLine(report.Equal
            ? string.Create(CultureInfo.InvariantCulture, $"Verify: equal ({Plural.Of(report.Tables.Count, "table")}, {Plural.Of(report.Tables.Sum(t => t.SourceRows), "row")}, {Plural.Of(report.Sequences.Count, "sequence")}{lobsEqual}) in {report.Seconds:0.0} s.")
            : string.Create(CultureInfo.InvariantCulture, $"Verify: {Differ(report.Tables.Count(t => !t.Equal), "table")}, {Plural.Of(report.MissingObjects.Count, "object")} missing, {report.ExtraObjects.Count} extra, {Differ(report.Sequences.Count(s => !s.Equal), "sequence")}{lobsDiffer}{((report.ConfigTables ?? []).Any(c => !c.Equal) ? $", {Differ((report.ConfigTables ?? []).Count(c => !c.Equal), "extension configuration table")}" : "")} ({report.Seconds:0.0} s)."));
    }

    /// <summary>"1 table differs", "2 tables differ".</summary>
    private static string Differ(int count, string noun) => $"{Plural.Of(count, noun)} {(count == 1 ? "differs" : "differ")}";

    private static void PrintLargeObjects(LargeObjectVerification lobs)
    {
        var state = lobs.DifferenceCount == 0 ? "equal   " : lobs.Equal ? "note    " : "DIFFERS ";
        var pending = lobs.DifferenceCount > 0 && !lobs.Synchronised ? $"; {lobs.DifferenceCount:N0} differences the cutover has yet to synchronise" : "";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{state} large objects: {lobs.SourceObjects:N0} on the source, {lobs.TargetObjects:N0} on the target{pending}"));
        foreach (var d in lobs.Differences)
        {
            Console.Out.WriteLine($"         {d}");
        }
        if (lobs.DifferenceCount > lobs.Differences.Count)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"         ... and {lobs.DifferenceCount - lobs.Differences.Count:N0} more"));
        }
    }
}
