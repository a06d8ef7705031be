using Npgsql;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PgShift.State;

/// <summary>Where a task stands, as its state on the target records it (the text in <see cref="TaskPhases.Text"/>).</summary>
[JsonConverter(typeof(TaskPhaseJsonConverter))]
public enum TaskPhase
{
    /// <summary>Creating the objects the data needs: types, tables, sequences, functions, views...</summary>
    Schema,
    /// <summary>Copying every selected table from one snapshot.</summary>
    Copy,
    /// <summary>Building keys, indexes, constraints, foreign keys and triggers.</summary>
    PostData,
    /// <summary>Applying the source's changes from the task's slot.</summary>
    Stream,
    /// <summary>Caught up for the cutover: the last copies, sequences and the rest of the schema.</summary>
    Cutover,
    Finished,
    /// <summary>Stopped on request; 'pgshift migrate' resumes it.</summary>
    Stopped,
}

public static class TaskPhases
{
    private static readonly Dictionary<TaskPhase, string> Texts = new()
    {
        [TaskPhase.Schema] = "schema", [TaskPhase.Copy] = "copy", [TaskPhase.PostData] = "post-data", [TaskPhase.Stream] = "stream",
        [TaskPhase.Cutover] = "cutover", [TaskPhase.Finished] = "finished", [TaskPhase.Stopped] = "stopped",
    };

    /// <summary>The phase as stored in pgshift.tasks.phase and shown by 'pgshift status'.</summary>
    public static string Text(this TaskPhase phase) => Texts[phase];

    public static TaskPhase Parse(string text)
        => Texts.FirstOrDefault(kv => kv.Value == text) is { Value: not null } found ? found.Key
            : throw new PgShiftException($"The task state holds an unknown phase '{text}'.", "Run a pgshift version at least as new as the one that wrote the task's state.");

    /// <summary>Waits until the task's phase is one of <paramref name="phases"/>, or its last error shows up with no process streaming.</summary>
    public static async Task<TaskStatusReport> WaitForAsync(NpgsqlConnection target, string task, TaskPhase[] phases, Action<TaskStatusReport>? onTick, CancellationToken ct)
    {
        DateTime? unheldSince = null;
        while (true)
        {
            var report = await TaskStatusReport.LoadAsync(target, task, ct)
                ?? throw new PgShiftException($"Task {task} disappeared from the target.", "Check --target and --task.");
            onTick?.Invoke(report);
            if (phases.Contains(report.Phase))
            {
                return report;
            }
            var retrying = report.Stream?.RetryingUntil is { } until && until > DateTime.UtcNow;
            // A failure is the task's latest event: an error recorded before its last phase change or monitor tick is history.
            var running = await TaskLock.IsHeldAsync(target, task, ct);
            if (!retrying && report.LastErrorAt is { } at && at >= report.UpdatedAt && !running)
            {
                throw new TaskFailedException($"Task {task} failed: {report.LastError}", "See the error; 'pgshift migrate' resumes the task once the cause is fixed.");
            }
            // A process that lost the target retakes the task's lock within its retry backoff (15 s at most); one that
            // stays away that long has exited without recording why.
            unheldSince = running ? null : unheldSince ?? DateTime.UtcNow;
            if (!retrying && DateTime.UtcNow - unheldSince > TimeSpan.FromSeconds(20))
            {
                throw new TaskFailedException($"No pgshift process is running task {task} any more, and it has not reached {string.Join(" or ", phases.Select(p => p.Text()))} (phase {report.Phase.Text()}).",
                    "See the output of the 'pgshift migrate' process; 'pgshift migrate' resumes the task.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }
    }

    /// <summary>The phases in which the task's work commits object by object, so that it resumes from its state after a lost connection.</summary>
    public static bool ResumesFromState(this TaskPhase phase) => phase is TaskPhase.Schema or TaskPhase.PostData or TaskPhase.Cutover;
}

internal sealed class TaskPhaseJsonConverter : JsonConverter<TaskPhase>
{
    public override TaskPhase Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => TaskPhases.Parse(reader.GetString()!);

    public override void Write(Utf8JsonWriter writer, TaskPhase value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text());
}
