using System.CommandLine;
using PgShift.Connections;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>
/// The way back of a task as the commands given --reverse see it: the same --source, --target and --task as the forward
/// task (the servers are swapped here), its settings read from the old source, where 'pgshift cutover --reverse' stored them.
/// </summary>
internal static class WayBackTask
{
    public static Option<bool> Option(string what) => new("--reverse") { Description = what };

    /// <summary>The reverse task of <paramref name="forward"/>: from its target back to its source, with the state on its source.</summary>
    public static async Task<ResolvedTask> ResolveAsync(ResolvedTask forward, CancellationToken ct)
    {
        string? json;
        await using (var oldServer = await ConnectionOpener.OpenAsync(forward.Source.ThroughFence(), "pgshift settings", ct))
        {
            json = await TaskSettingsStore.LoadAsync(oldServer, forward.TaskName, ct);
        }
        if (json is null)
        {
            throw new PgShiftException($"Task {forward.TaskName} has no way back on the source {forward.Source}: its cutover did not prepare one.",
                $"Give the task's own --source and --target (the way back goes from the target to the source); 'pgshift cutover --reverse --task {forward.TaskName}' prepares the way back.");
        }
        var settings = WayBackSettings.Build(forward.Source, forward.Target, forward.TaskName, TaskFile.FromStoredJson(json), forward.Given);
        return new ResolvedTask(settings, forward.Given, forward.Named);
    }

    /// <summary>Where the state of the task's direction lives: the target, or for the way back the source (writable through its fence).</summary>
    public static ConnectionSpec StateServer(ResolvedTask task, bool reverse) => reverse ? task.Source.ThroughFence() : task.Target;
}
