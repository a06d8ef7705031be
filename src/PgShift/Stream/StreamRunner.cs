using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Stream;

/// <summary>The task's settings, for the change stream, with how it applies changes.</summary>
public sealed record StreamOptions : TaskSettings
{
    public StreamOptions()
    {
    }

    [SetsRequiredMembers]
    public StreamOptions(TaskSettings settings) : base(settings)
    {
    }

    /// <summary>Takes the task's lock on the target again if a restart of the target freed it (before each session).</summary>
    public Func<CancellationToken, Task>? EnsureTaskLock { get; init; }
    /// <summary>Follows the source's captured schema changes (null: the task does not capture them, and a column change stops it).</summary>
    public ISchemaChangeFollower? SchemaChanges { get; init; }
    /// <summary>Events held between reading and applying; bounds memory whatever the transaction size.</summary>
    public int QueueCapacity { get; init; } = 10_000;
}

public enum StreamOutcome
{
    /// <summary>Stopped on request (pgshift stop).</summary>
    Stopped,
    /// <summary>Caught up with the source after a cutover request.</summary>
    CaughtUpForCutover,
}

/// <summary>
/// Runs the change stream: reader and applier over a bounded queue, a monitor that measures the delay and
/// writes it to the task state, and reconnection with backoff within the retry window. The slot is
/// acknowledged only up to what is committed on the target.
/// </summary>
public sealed class StreamRunner(ILogger logger)
{
    private static readonly string[] TextSettings =
        ["TimeZone=UTC", "DateStyle=ISO, YMD", "IntervalStyle=postgres", "extra_float_digits=3", "bytea_output=hex"];

    public StreamProgress Progress { get; } = new();

    /// <summary>Changes a second that the applier applies.</summary>
    public Throttle Throttle { get; init; } = Throttle.Unlimited;

    /// <summary>Where the stream's retries are counted, for the task's progress.</summary>
    public IncidentLog? Incidents { get; init; }

    /// <summary>When the current session started streaming (null until it does): a session that lasted ends an outage.</summary>
    private DateTime? _streamingSince;

    /// <summary>
    /// How long a session must have streamed for its failure to count as a new outage, with a retry window of its
    /// own: a minute, or a quarter of the window if that is shorter. A session that fails sooner belongs to the
    /// outage before it, so a server that accepts connections and drops them again cannot keep a task retrying forever.
    /// </summary>
    internal static TimeSpan OutageEndsAfter(TimeSpan retryWindow) => TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, retryWindow.Ticks / 4));

    /// <summary>A hold position that every transaction is at or after: the stream pauses at its next transaction boundary.</summary>
    public static readonly NpgsqlLogSequenceNumber PauseEverything = new(1);

    /// <param name="cutover">Stop once caught up (no need to wait for a request in the task state).</param>
    public async Task<StreamOutcome> RunAsync(StreamOptions options, bool cutover, CancellationToken ct)
    {
        var retry = new RetryLoop("The change stream", options.RetryWindow, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(15))
        {
            Incidents = Incidents,
            // The slot may still be active for the walsender of an earlier session that the server has not yet seen die (55006).
            CanRetry = ex => Transience.IsTransient(ex) || ConnectionFailure.FindPostgresException(Cause(ex)) is { SqlState: "55006" },
            // The reader's failure reaches the applier wrapped in the closed queue: say the failure itself.
            Describe = ex => ConnectionFailure.From(Cause(ex), options.Source) is var f ? (f.Problem, f.Fix) : default,
            BeforeWait = (ex, deadline, c) =>
            {
                Progress.Connected = false;
                Progress.RetryingUntil = deadline.UtcDateTime;
                Progress.LastError = Redactor.Redact(Cause(ex).Message).TrimEnd('.');
                logger.LogWarning("Change stream interrupted: {Error}. Retrying (until {Deadline:u})", Progress.LastError, deadline);
                return TryRecordRetryAsync(options, deadline, Progress.LastError, c);
            },
        };
        NpgsqlLogSequenceNumber inOrderThrough = default;
        var spool = options.Apply.SpoolLargeTransactions;
        return await retry.RunAsync(async c =>
        {
            while (true)
            {
                try
                {
                    return await RunSessionAsync(options, cutover, inOrderThrough, spool, c);
                }
                catch (Exception ex) when (!c.IsCancellationRequested && (ex as SpoolLimitException ?? ex.InnerException as SpoolLimitException) is { } limit)
                {
                    logger.LogWarning("{Reason}: the stream goes on without streaming large transactions; the source keeps them until they commit", limit.Message);
                    spool = false;
                }
                catch (ReplayInOrderException replay) when (!c.IsCancellationRequested)
                {
                    logger.LogWarning("{Reason}: transactions up to {Lsn} are applied again, change by change", replay.Message, replay.Through);
                    inOrderThrough = replay.Through;
                }
                catch (Exception ex) when (c.IsCancellationRequested && ex is not OperationCanceledException)
                {
                    // Cancelled in the middle of a command: whatever the driver threw, the cause is the cancellation.
                    throw new OperationCanceledException("The change stream was cancelled.", ex, c);
                }
                finally
                {
                    // A session that streamed for a while ended the outage before it: its failure starts a new one, with a window of its own.
                    if (_streamingSince is { } since && DateTime.UtcNow - since >= OutageEndsAfter(options.RetryWindow))
                    {
                        retry.Recovered();
                    }
                    _streamingSince = null;
                }
            }
        }, ct);
    }

    private static Exception Cause(Exception ex) => ex is ChannelClosedException { InnerException: { } inner } ? inner : ex;

    /// <summary>One session: connect and position, start replication, run reader, applier and monitor until an outcome or a failure, shut down.</summary>
    private async Task<StreamOutcome> RunSessionAsync(StreamOptions options, bool cutover, NpgsqlLogSequenceNumber inOrderThrough, bool spool, CancellationToken ct)
    {
        var slotName = TaskName.SlotName(options.TaskName);
        if (options.EnsureTaskLock is { } ensureLock)
        {
            await ensureLock(ct);
        }
        await using var target = await OpenApplyConnectionAsync(options.Target, ct);
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift stream monitor", ct);
        var (startLsn, tables) = await PositionAsync(options, source, target, slotName, ct);
        var applier = new ChangeApplier(target, options.TaskName, tables, startLsn, options.Apply, options.Conflicts, logger, inOrderThrough, Throttle,
            options.SchemaChanges, options.SkipSchemaChanges);
        if (options.SchemaChanges is not null)
        {
            // Tables that joined the task in a change applied before a restart, and are not copied yet.
            applier.QueueBringIns(await SchemaChangeState.PendingAsync(target, options.TaskName, ct));
        }
        await using var monitor = new StreamMonitor(options, source, slotName, Progress, logger);
        // What was staged during the copy goes first, through the same applier, and the slot is read from the stage mark:
        // the reader starts at once, so that the source decodes from the slot's restart point while the staged changes
        // are applied (what it reads waits in the bounded queue).
        var anyStaged = await StagedChanges.AnyAsync(target, options.TaskName, ct);
        var readFrom = anyStaged && await StagedChanges.MarkLsnAsync(target, options.TaskName, ct) is { } mark && mark > startLsn ? mark : startLsn;
        await using var replication = await StartReplicationAsync(options, readFrom, ct);

        var channel = Channel.CreateBounded<StreamEvent>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, SingleWriter = true });
        // One spool directory per process and task, private to the user; what killed processes left behind is removed here.
        var spoolRoot = SpoolRoot(options.Apply.SpoolDirectory);
        var spoolDirectory = Path.Combine(spoolRoot, $"{options.TaskName}-{Environment.ProcessId}");
        RemoveStaleSpools(spoolRoot);
        await using var outcomes = new SubtransactionOutcomes(options.Source, logger);
        var reader = new ChangeReader(replication, slotName, TaskName.PublicationName(options.TaskName), channel.Writer,
            spool ? spoolDirectory : null, options.Apply.SpoolLimitBytes, Progress, outcomes)
        {
            LoseSubtransactionAborts = options.Apply.LoseSubtransactionAborts,
        };
        using var sessionCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var readerTask = Task.Run(() => reader.RunAsync(readFrom, sessionCts.Token), CancellationToken.None);
        var received = new ReceivedPosition(replication, reader);
        Progress.Connected = true;
        Progress.RetryingUntil = null;

        try
        {
            if (anyStaged && await ApplyStagedAsync(options, target, applier, monitor, received, cutover, sessionCts.Token))
            {
                return StreamOutcome.Stopped;
            }
            _streamingSince = DateTime.UtcNow;
            logger.LogInformation("Streaming changes of task {Task} from {Lsn}", options.TaskName, readFrom);
            return await new StreamSession(channel.Reader, reader, replication, applier, monitor, Progress, cutover, received, logger).RunAsync(readerTask, sessionCts.Token);
        }
        catch
        {
            await applier.AbandonAsync();
            Progress.Connected = false;
            throw;
        }
        finally
        {
            await sessionCts.CancelAsync();
            try
            {
                await readerTask;
            }
            catch (Exception ex) when (ex is OperationCanceledException || sessionCts.IsCancellationRequested)
            {
            }
            // The reader has closed (and so deleted) its spool files; the directory goes with them.
            TransactionSpool.TryDeleteDirectory(spoolDirectory);
        }
    }

    /// <summary>
    /// Applies the changes staged during the copy (<see cref="StagedReplay"/>), with the monitor ticking meanwhile: the
    /// task's state shows the replay's delay and progress, and a stop request ends it between two source transactions.
    /// </summary>
    /// <returns>Whether a stop request ended the replay.</returns>
    private async Task<bool> ApplyStagedAsync(StreamOptions options, NpgsqlConnection target, ChangeApplier applier, StreamMonitor monitor,
        ReceivedPosition received, bool cutover, CancellationToken ct)
    {
        await using var staged = await ConnectionOpener.OpenAsync(options.Target, "pgshift staged", ct);
        // The replay commits only whole transactions, and what the target holds is what counts. The server's position
        // is watched meanwhile, so that the stream may count it as soon as the replay ends if it has settled.
        return await StagedReplay.ApplyAsync(staged, applier, options.TaskName, logger, async c =>
        {
            received.Settled();
            return (await monitor.TickAsync(applier, applier.CommittedLsn, null, cutover, c)).Stop;
        }, ct);
    }

    /// <summary>Where the session starts (after what the target holds), with the slot checked and the task's tables read.</summary>
    private async Task<(NpgsqlLogSequenceNumber StartLsn, Dictionary<QualifiedName, StreamTable> Tables)> PositionAsync(StreamOptions options,
        NpgsqlConnection source, NpgsqlConnection target, string slotName, CancellationToken ct)
    {
        var startLsn = await StreamCheckpoint.StartAsync(target, options.TaskName, ct)
            ?? throw new PgShiftException($"Task {options.TaskName} has no slot position recorded on the target; its full copy has not run with the change stream.",
                "Run 'pgshift migrate' with incremental among the types (the default) to create the slot and copy the data.");
        await TaskSlot.CheckAsync(source, slotName, ct);
        var tables = await StreamTable.LoadAsync(source, target, options.TaskName, options.Mapping, options.ExcludedColumns, ct);
        foreach (var dropped in tables.Values.Where(t => t.DroppedOnSource))
        {
            logger.LogWarning("Table {Table} no longer exists on the source: the changes made before it was dropped are applied, and the target keeps it", dropped.Source);
        }
        return (startLsn, tables);
    }

    /// <summary>The replication connection, its values in the text forms the apply session reads them in, positioned at <paramref name="startLsn"/>.</summary>
    internal static async Task<LogicalReplicationConnection> StartReplicationAsync(StreamOptions options, NpgsqlLogSequenceNumber startLsn, CancellationToken ct)
    {
        var replication = await ConnectionOpener.OpenReplicationAsync(options.Source, "pgshift stream", ct, b =>
        {
            b.Options = string.Join(' ', TextSettings.Concat(options.Apply.DecodingWorkMem is { } mem ? [$"logical_decoding_work_mem={mem}"] : [])
                .Select(s => "-c " + s.Replace(" ", "\\ ", StringComparison.Ordinal)));
        }, TimeSpan.FromSeconds(1));
        replication.SetReplicationStatus(startLsn);
        return replication;
    }

    internal static async Task<NpgsqlConnection> OpenApplyConnectionAsync(ConnectionSpec target, CancellationToken ct)
    {
        // The same few statement shapes repeat for every change: prepare them once per connection.
        var conn = await ConnectionOpener.OpenAsync(target, "pgshift apply", ct, b =>
        {
            b.MaxAutoPrepare = 256;
            b.AutoPrepareMinUsages = 2;
        });
        await using (var cmd = new NpgsqlCommand(string.Join("; ", TextSettings.Select(s => $"SET {s.Split('=')[0]} = {Sql.Literal(s.Split('=')[1])}")), conn))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        try
        {
            // Triggers and foreign-key checks already ran on the source.
            await using var role = new NpgsqlCommand("SET session_replication_role = replica", conn);
            await role.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "42501")
        {
            // Without the privilege the task creates foreign keys and triggers at cutover (see the precheck).
        }
        return conn;
    }

    /// <summary>
    /// Where the spool directories of this user's PgShift processes go: a directory of the user's own (0700) under
    /// <paramref name="configured"/> or the system's temporary directory, so that no other user can read the row
    /// values that spool files hold.
    /// </summary>
    internal static string SpoolRoot(string? configured)
    {
        var root = Path.Combine(configured ?? Path.GetTempPath(), "pgshift-spool-" + Environment.UserName);
        TransactionSpool.CreatePrivateDirectory(root);
        return root;
    }

    /// <summary>Removes the spool directories of processes that are gone (killed with their transactions half received), whatever their task.</summary>
    internal static void RemoveStaleSpools(string root)
    {
        if (!Directory.Exists(root))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(root, "*-*"))
        {
            var name = Path.GetFileName(dir);
            var pid = name[(name.LastIndexOf('-') + 1)..];
            if (int.TryParse(pid, System.Globalization.CultureInfo.InvariantCulture, out var id) && (id == Environment.ProcessId || !Directory.Exists($"/proc/{id}")))
            {
                TransactionSpool.TryDeleteDirectory(dir);
            }
        }
    }

    private static async Task TryRecordRetryAsync(StreamOptions options, DateTimeOffset until, string error, CancellationToken ct)
    {
        try
        {
            await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift state", ct);
            await StreamReport.RecordRetryAsync(target, options.TaskName, until.UtcDateTime, error, ct);
        }
        catch (PgShiftException)
        {
            // The target is the server that is down: the status shows the retry once it is back.
        }
    }
}
