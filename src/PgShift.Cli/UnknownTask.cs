using Npgsql;
using PgShift.Connections;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>The error for a --task that the target does not know, with the tasks it does know: one message for every command.</summary>
internal static class UnknownTask
{
    public static async Task<TaskStatusReport> RequireAsync(NpgsqlConnection target, ConnectionSpec spec, string task, string orElse, CancellationToken ct)
        => await TaskStatusReport.LoadAsync(target, task, ct) ?? throw await ErrorAsync(target, spec, task, orElse, ct);

    public static async Task<PgShiftException> ErrorAsync(NpgsqlConnection target, ConnectionSpec spec, string task, string orElse, CancellationToken ct)
    {
        var names = await TaskStatusReport.NamesAsync(target, ct);
        var known = names.Count == 0 ? "it holds no PgShift task" : $"its tasks: {string.Join(", ", names.Take(20))}{(names.Count > 20 ? $" and {names.Count - 20} more" : "")}";
        return new PgShiftException($"No task named {task} on the target {spec} ({known}).",
            $"Check --task (the default is the source database's name) and --target{(names.Count > 0 ? $", e.g. --task {names[0]}" : "")}; {orElse}");
    }
}
