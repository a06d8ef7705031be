using PgShift.Connections;
using PgShift.Selection;

namespace PgShift.Settings;

/// <summary>
/// A task's settings, one record for every stage: built once from the command line and the task file
/// (<see cref="TaskSettingsBuilder"/>), validated there, stored with the task, and read back by every later command.
/// A stage's options derive from it and add only what is the stage's own.
/// </summary>
public record TaskSettings
{
    /// <summary>Parallel connections when none are asked for: the cores, at least 2.</summary>
    public static int DefaultJobs => Math.Max(2, Environment.ProcessorCount);

    public const double DefaultSplitThresholdMb = 1024;

    public static readonly TimeSpan DefaultRetryWindow = TimeSpan.FromHours(12);

    public required ConnectionSpec Source { get; init; }
    public required ConnectionSpec Target { get; init; }
    public required string TaskName { get; init; }

    /// <summary>Create the schema: objects before the data, then keys, indexes, foreign keys and triggers.</summary>
    public bool Schema { get; init; } = true;
    /// <summary>Copy every selected table from one snapshot.</summary>
    public bool Full { get; init; } = true;
    /// <summary>Stream the changes from the task's slot after the copy, until the cutover.</summary>
    public bool Incremental { get; init; } = true;

    public TableSelection Selection { get; init; } = TableSelection.All;
    public ColumnExclusions ExcludedColumns { get; init; } = new();
    public NameMapping Mapping { get; init; } = NameMapping.None;
    /// <summary>Copy the database's large objects with the data, synchronise them again at cutover, and verify them (<see cref="TaskFile.CopiesLargeObjects"/>).</summary>
    public bool LargeObjects { get; init; } = true;
    /// <summary>Give each object the source's owner on the target (when the role exists there); false: the target's user owns everything (<c>--no-owner</c>).</summary>
    public bool Owners { get; init; } = true;

    /// <summary>Parallel connections to each server, for the copy, post-data and verify.</summary>
    public int Jobs { get; init; } = DefaultJobs;
    /// <summary>Tables larger than this on disk are copied in ranges by several workers; 0 never splits.</summary>
    public long SplitThresholdBytes { get; init; } = (long)(DefaultSplitThresholdMb * 1048576);
    /// <summary>How long lost connections are retried before the task fails.</summary>
    public TimeSpan RetryWindow { get; init; } = DefaultRetryWindow;
    /// <summary>What a change that does not fit the target does.</summary>
    public ConflictPolicy Conflicts { get; init; } = ConflictPolicy.Error;
    /// <summary>How the change stream applies changes (batching, grouping, spooling): tuning, not given by the user.</summary>
    public ApplyOptions Apply { get; init; } = new();

    /// <summary>
    /// Bytes a second that the copy may read from the source, over all its workers (0: no limit); null: as the task's
    /// state says (the last limit given to the task, by a command line, a task file or 'pgshift throttle').
    /// </summary>
    public long? MaxCopyRate { get; init; }
    /// <summary>Changes a second that the stream may apply (0: no limit); null: as the task's state says.</summary>
    public double? MaxApplyRate { get; init; }
    /// <summary>Where this process serves its metrics and status page; null: nowhere. Not stored with the task.</summary>
    public MonitorEndpoint? Monitor { get; init; }
    /// <summary>The cutover prepares the way back: the reverse stream's slot on the target, its state on the source (<c>cutover --reverse</c>).</summary>
    public bool PrepareWayBack { get; init; }
    /// <summary>
    /// These are the settings of a task's way back: the reverse stream, from the new server (<see cref="Source"/> here) to the
    /// old one (<see cref="Target"/>), whose state lives on the old one; its cutover is the fallback.
    /// </summary>
    public bool WayBack { get; init; }
    /// <summary>Captured schema changes to pass over in this run (the user made them on the target by hand), by number; not stored.</summary>
    public IReadOnlySet<long> SkipSchemaChanges { get; init; } = new HashSet<long>();

    /// <summary>The settings in the form stored with a new task (<see cref="TaskFile.ToStoredJson"/>: no server, no password), if built from one.</summary>
    public string? StoredForm { get; init; }
}

/// <summary>The address and port of the metrics (/metrics) and the status page (/).</summary>
public sealed record MonitorEndpoint(string Address, int Port)
{
    /// <summary>This machine only, unless asked otherwise.</summary>
    public const string DefaultAddress = "127.0.0.1";
}

public enum ConflictPolicy
{
    /// <summary>Stop the task, naming the table, the key and the LSN.</summary>
    Error,
    /// <summary>Skip a change whose row is missing, or whose inserted key exists already.</summary>
    Ignore,
}
