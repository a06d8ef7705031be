using System.CommandLine;
using PgShift.Connections;
using PgShift.Selection;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>
/// A task's settings are those it started with: later commands (cutover, verify, a resumed migrate) read them from the
/// task's state, so that a setting can never be lost between commands; a command line that contradicts them is refused.
/// </summary>
internal static class StoredSettings
{
    /// <summary>The settings this command line gives: the task file's, plus the selection flags.</summary>
    public static TaskFile Given(ParseResult pr, CommonOptions common, ResolvedTask task)
    {
        var f = task.File;
        static List<string>? Join(List<string>? a, string[]? b) => (a ?? []).Concat(b ?? []).ToList() is { Count: > 0 } l ? l : null;
        return new TaskFile
        {
            Types = f.Types, Jobs = f.Jobs, RetryWindow = pr.GetValue(common.RetryWindowOption) ?? f.RetryWindow, Mapping = f.Mapping,
            OnConflict = f.OnConflict, SplitThresholdMb = f.SplitThresholdMb,
            IncludeSchemas = Join(f.IncludeSchemas, pr.GetValue(common.IncludeSchema)),
            ExcludeSchemas = Join(f.ExcludeSchemas, pr.GetValue(common.ExcludeSchema)),
            IncludeTables = Join(f.IncludeTables, pr.GetValue(common.IncludeTable)),
            ExcludeTables = Join(f.ExcludeTables, pr.GetValue(common.ExcludeTable)),
            ExcludeColumns = Join(f.ExcludeColumns, pr.GetValue(common.ExcludeColumn)),
        };
    }

    /// <summary>
    /// The task as it started when the target has its settings (its selection, exclusions and renaming replace the
    /// command line's, which may only repeat them), else the command line's own. The second value is the settings in force.
    /// </summary>
    public static async Task<(ResolvedTask Task, TaskFile Settings)> ApplyAsync(ResolvedTask task, TaskFile given, CancellationToken ct)
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
            return (task, given);
        }
        if (json is null)
        {
            return (task, given);
        }
        var stored = TaskFile.FromStoredJson(json);
        if (given.HasSelection() && given.SelectionDifferences(stored) is { Count: > 0 } differences)
        {
            throw new UsageException(
                $"This command's selection differs from the one task {task.TaskName} started with: {string.Join("; ", differences)}.",
                $"Leave the selection flags (and the task file's selection) out: every command works on the task's own selection. To move another selection, start a new task (--task ANOTHER_NAME).");
        }
        return (task with { Selection = stored.ToSelection(), ExcludedColumns = stored.ToColumnExclusions(), Mapping = stored.ToNameMapping() }, stored);
    }
}
