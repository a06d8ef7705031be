using System.Text.Json;
using System.Text.Json.Serialization;

namespace PgShift.Progress;

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

    /// <summary>The phase as the task's state stores it and 'pgshift status' shows it.</summary>
    public static string Text(this TaskPhase phase) => Texts[phase];

    /// <summary>
    /// The phase a stored text names. "pre-data" is what the row says between the schema phase's commit and the copy's
    /// start (the schema phase records its completion there): still the schema phase.
    /// </summary>
    public static TaskPhase Parse(string text)
        => text == "pre-data" ? TaskPhase.Schema
            : Texts.FirstOrDefault(kv => kv.Value == text) is { Value: not null } found ? found.Key
            : throw new PgShiftException($"The task state holds an unknown phase '{text}'.", "Run a pgshift version at least as new as the one that wrote the task's state.");

    /// <summary>The phases in which the task's work commits object by object, so that it resumes from its state after a lost connection.</summary>
    public static bool ResumesFromState(this TaskPhase phase) => phase is TaskPhase.Schema or TaskPhase.PostData or TaskPhase.Cutover;
}

internal sealed class TaskPhaseJsonConverter : JsonConverter<TaskPhase>
{
    public override TaskPhase Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => TaskPhases.Parse(reader.GetString()!);

    public override void Write(Utf8JsonWriter writer, TaskPhase value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text());
}
