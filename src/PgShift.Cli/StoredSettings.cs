using PgShift.Connections;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>
/// A task's settings are those it started with: later commands (cutover, verify, a resumed migrate) read them from the
/// task's state, so that a setting can never be lost between commands; a command line that contradicts them is refused.
/// </summary>
internal static class StoredSettings
{
    /// <summary>
    /// The task as it started when the target has its settings (its selection, exclusions and renaming replace the
    /// command line's, which may only repeat them; jobs, split threshold, retry window and conflict policy given here
    /// win), else the command line's own.
    /// </summary>
    public static async Task<ResolvedTask> ApplyAsync(ResolvedTask task, CancellationToken ct)
    {
        string? json;
        try
        {
            await using var target = await ConnectionOpener.OpenAsync(task.Target, "pgshift settings", ct);
            json = await TaskSettingsStore.LoadAsync(target, task.TaskName, ct);
        }
        catch (ConnectionFailedException)
        {
            // The command meets the same failure where it reports it in its own terms (migrate's precheck, for one).
            return task;
        }
        if (json is null)
        {
            return task;
        }
        var stored = TaskFile.FromStoredJson(json);
        if (task.Given.HasSelection() && task.Given.SelectionDifferences(stored) is { Count: > 0 } differences)
        {
            throw new UsageException(
                $"This command's selection differs from the one task {task.TaskName} started with: {string.Join("; ", differences)}.",
                $"Leave the selection flags (and the task file's selection) out: every command works on the task's own selection. To move another selection, start a new task (--task ANOTHER_NAME).");
        }
        foreach (var change in TuningChanges(task.Given, stored))
        {
            Console.Error.WriteLine($"note: {change}");
        }
        return task with { Settings = TaskSettingsBuilder.Build(task.Source, task.Target, task.TaskName, task.Given, stored) };
    }

    /// <summary>The settings this command gives that differ from the task's own: these win (they change how, not what, the task moves), and are said.</summary>
    private static IEnumerable<string> TuningChanges(TaskFile given, TaskFile stored)
    {
        static string Show(object v) => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!;
        var pairs = new (string Name, object? Given, object? Stored)[]
        {
            ("jobs", given.Jobs, stored.Jobs),
            ("split threshold (MB)", given.SplitThresholdMb, stored.SplitThresholdMb),
            ("retry window", given.RetryWindow, stored.RetryWindow),
            ("conflict policy", given.OnConflict, stored.OnConflict),
        };
        return pairs.Where(p => p.Given is not null && !Equals(p.Given, p.Stored))
            .Select(p => $"{p.Name} {Show(p.Given!)} given here is used instead of {(p.Stored is null ? "the default" : $"the task's {Show(p.Stored)}")}");
    }
}
