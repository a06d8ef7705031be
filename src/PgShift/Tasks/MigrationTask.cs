using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.Cutover;
using PgShift.Progress;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.State;
using PgShift.Stream;

namespace PgShift.Tasks;

public sealed class MigrationOptions
{
    public required ConnectionSpec Source { get; init; }
    public required ConnectionSpec Target { get; init; }
    public required string TaskName { get; init; }
    public bool Schema { get; init; } = true;
    public bool Full { get; init; } = true;
    public bool Incremental { get; init; } = true;
    public TableSelection Selection { get; init; } = TableSelection.All;
    public ColumnExclusions ExcludedColumns { get; init; } = new();
    public NameMapping Mapping { get; init; } = NameMapping.None;
    public int Jobs { get; init; } = Math.Max(2, Environment.ProcessorCount);
    public long SplitThresholdBytes { get; init; } = 1L << 30;
    public TimeSpan RetryWindow { get; init; } = Connections.RetryWindow.DefaultWindow;
    public ApplyOptions Apply { get; init; } = new();
    /// <summary>The settings as the user gave them (<see cref="Selection.TaskFile.ToStoredJson"/>), stored with a new task for later commands.</summary>
    public string? Settings { get; init; }

    internal SchemaMigrationOptions SchemaOptions(bool streamFollows, bool deferForeignKeysAndTriggers) => new()
    {
        Source = Source, Target = Target, Selection = Selection, ExcludedColumns = ExcludedColumns, Mapping = Mapping,
        Jobs = Jobs, TaskName = TaskName, StreamFollows = streamFollows, DeferForeignKeysAndTriggers = deferForeignKeysAndTriggers,
    };

    internal FullCopyOptions CopyOptions(bool incremental, bool knownTablesOnly = false) => new()
    {
        Source = Source, Target = Target, TaskName = TaskName, Selection = Selection, ExcludedColumns = ExcludedColumns,
        Mapping = Mapping, Jobs = Jobs, SplitThresholdBytes = SplitThresholdBytes, Incremental = incremental, RetryWindow = RetryWindow,
        KnownTablesOnly = knownTablesOnly,
    };

    internal StreamOptions StreamOptions(Func<CancellationToken, Task>? ensureTaskLock = null) => new()
    {
        Source = Source, Target = Target, TaskName = TaskName, Mapping = Mapping, ExcludedColumns = ExcludedColumns,
        Apply = Apply, RetryWindow = RetryWindow, EnsureTaskLock = ensureTaskLock,
    };
}

public sealed class MigrationResult
{
    public List<SchemaReport> Schema { get; } = new();
    public FullCopyResult? Copy { get; set; }
    public StreamOutcome? Stream { get; set; }
    /// <summary>The task reached its end: finished (cut over, or a one-time copy done).</summary>
    public bool Finished { get; set; }
    public bool AlreadyFinished { get; set; }
    /// <summary>Stopped on request (pgshift stop), in whatever phase it was; 'pgshift migrate' resumes it.</summary>
    public bool Stopped { get; set; }
}

/// <summary>
/// The migration task: runs the stages in order (schema before the data, full copy, schema after the data,
/// change stream, cutover), skipping what an earlier run of the same task finished, so a killed process
/// started again picks up where it stopped.
/// </summary>
public sealed class MigrationTask(ILogger logger)
{
    public FullCopier Copier { get; } = new(logger);
    public StreamRunner Stream { get; } = new(logger);

    /// <summary>
    /// Raised with the task's progress, one call at a time: as it enters a phase (schema, copy, post-data, stream, cutover,
    /// finished, stopped), and twice a second while it runs.
    /// </summary>
    public event Action<TaskProgress>? ProgressChanged;

    /// <summary>The phase the task is in (null before it starts).</summary>
    private string? _phase;
    /// <summary>The phase published: the last one recorded in the task's state.</summary>
    private string? _shownPhase;
    private bool _streamed;
    private readonly Lock _publishing = new();

    private void PublishProgress(string task)
    {
        lock (_publishing)
        {
            ProgressChanged?.Invoke(new TaskProgress(task, _shownPhase, Copier.Progress.Snapshot(), _streamed ? Stream.Progress.Snapshot() : null));
        }
    }

    /// <param name="cutover">Stream until caught up, then cut over (pgshift cutover when no migrate process runs).</param>
    public async Task<MigrationResult> RunAsync(MigrationOptions options, bool cutover, CancellationToken ct)
    {
        // The copy and the stream retry lost connections themselves; the schema phases and the cutover's steps commit
        // object by object, so after a lost connection the task resumes from its state, as a killed process would.
        var outage = new Outage(options.RetryWindow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        await using var ticker = new ProgressTicker(() => PublishProgress(options.TaskName), TimeSpan.FromMilliseconds(500));
        while (true)
        {
            _phase = null;
            try
            {
                return await RunOnceAsync(options, cutover, ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && (outage.Ongoing || _phase is "schema" or "post-data" or "cutover")
                && (ex is TaskFailedException ? ex.InnerException : ex) is { } cause
                && cause is not (OperationCanceledException or PgShiftException { InnerException: null })
                && ConnectionFailure.From(cause, options.Target).IsTransient)
            {
                if (!outage.Failed())
                {
                    throw;
                }
                logger.LogWarning("Task {Task} was interrupted in its {Phase} phase: {Error} Resuming in {Delay:0}s (until {Deadline:u})",
                    options.TaskName, _phase, Redactor.Redact(cause.Message), outage.Delay.TotalSeconds, outage.Deadline);
                await outage.WaitAsync(ct);
            }
        }
    }

    private async Task<MigrationResult> RunOnceAsync(MigrationOptions options, bool cutover, CancellationToken ct)
    {
        var result = new MigrationResult();
        TaskLock taskLock;
        try
        {
            taskLock = await TaskControl.LockAsync(options.Target, options.TaskName, ct);
        }
        catch (ConnectionFailedException ex)
        {
            // The same failure as the precheck's for the source (exit code 1, not 2): the target is the first server a task reaches.
            throw new TaskFailedException($"Task {options.TaskName} did not start: [target.connect] Cannot connect to the target: {ex.Failure.Problem}", ex.Failure.Fix, ex);
        }
        await using var heldLock = taskLock;
        await using var stateConnection = new StateConnection(options.Target);
        var state = await stateConnection.ReviveAsync(ct);
        var current = await TaskStatusReport.LoadAsync(state, options.TaskName, ct);
        if (current?.Phase == "finished")
        {
            result.AlreadyFinished = result.Finished = true;
            return result;
        }
        if (current is null && options.Incremental && !options.Full)
        {
            // Checked before anything is written: a task row left behind would make the next run skip the precheck.
            throw new TaskFailedException(
                $"Task {options.TaskName} does not exist on the target yet, and --types {string.Join(",", new[] { options.Schema ? "schema" : null, "incremental" }.OfType<string>())} cannot start it: "
                + "the change stream starts from the slot and snapshot that the task's full copy creates.",
                "Start the task with its full copy: --types schema,full,incremental (the default), or full,incremental when the tables already exist on the target; "
                + "--types incremental resumes the change stream of a task that has one.");
        }
        if (current is null)
        {
            // A new task starts only when the precheck passes: bad input changes nothing on either server.
            var precheck = await new Precheck.PrecheckRunner().RunAsync(new Precheck.PrecheckOptions
            {
                Source = options.Source, Target = options.Target, TaskName = options.TaskName, Selection = options.Selection,
                ExcludedColumns = options.ExcludedColumns, Incremental = options.Incremental,
            }, ct);
            var failed = precheck.Checks.Where(c => c.Status == Precheck.CheckStatus.Failed).ToList();
            if (failed.Count > 0)
            {
                throw new TaskFailedException(
                    $"The precheck failed, so task {options.TaskName} did not start: " + string.Join(" ", failed.Select(c => $"[{c.Id}] {c.Message}")),
                    string.Join(" ", failed.Select(c => c.Fix)) + " ('pgshift precheck' shows every check.)");
            }
        }
        async Task Phase(string phase)
        {
            _phase = phase;
            await TaskState.SetPhaseAsync(state, options.TaskName, options.Source.ToString(), phase, ct);
            if (options.Settings is { } settings)
            {
                await TaskSettingsStore.SaveIfNewAsync(state, options.TaskName, settings, ct);
            }
            _shownPhase = phase;
            _streamed |= phase == "stream";
            PublishProgress(options.TaskName);
        }

        // Until the stream runs (which answers a stop itself, at a transaction boundary), a stop request cancels
        // the phase at hand: what it did is rolled back or recopied when the task resumes.
        using var stopped = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var watchEnd = new CancellationTokenSource();
        var watcher = WatchForStopAsync(options, stopped, watchEnd.Token);
        var work = stopped.Token;
        async Task<MigrationResult> StopAsync()
        {
            await using var clear = new NpgsqlCommand("UPDATE pgshift.tasks SET stop_requested = false WHERE name = @t", state);
            clear.Parameters.AddWithValue("t", options.TaskName);
            await clear.ExecuteNonQueryAsync(ct);
            await Phase("stopped");
            result.Stopped = true;
            return result;
        }

        try
        {
            var deferred = options.Incremental && !await CanSetReplicaRoleAsync(options.Target, ct);
            if (options.Schema)
            {
                await Phase("schema");
                result.Schema.Add(await new SchemaMigrator(logger).CreatePreDataAsync(options.SchemaOptions(options.Incremental, deferred), work));
            }
            var postDataDue = options.Schema && !await StateSchema.PhaseDoneAsync(state, options.TaskName, SchemaMigrator.PostDataPhase, ct);
            Task<SchemaReport>? overlapped = null;
            if (options.Full)
            {
                await Phase("copy");
                if (postDataDue && !deferred)
                {
                    // Keys and indexes of a table are built as soon as its copy commits, while the others still copy.
                    var ready = System.Threading.Channels.Channel.CreateUnbounded<Catalog.QualifiedName>();
                    Copier.TableCopied += plan => ready.Writer.TryWrite(plan.Source);
                    using var copyFailed = CancellationTokenSource.CreateLinkedTokenSource(work);
                    overlapped = new SchemaMigrator(logger).CreatePostDataAsync(options.SchemaOptions(options.Incremental, deferred), copyFailed.Token, ready.Reader);
                    try
                    {
                        result.Copy = await CopyAsync(options, work);
                        ready.Writer.TryComplete();
                    }
                    catch (Exception ex)
                    {
                        ready.Writer.TryComplete(ex);
                        await copyFailed.CancelAsync();
                        try
                        {
                            await overlapped;
                        }
                        catch (Exception) when (copyFailed.IsCancellationRequested)
                        {
                            // The copy's failure is the one to report.
                        }
                        throw;
                    }
                    await Phase("post-data");
                    result.Schema.Add(await overlapped);
                }
                else
                {
                    result.Copy = await CopyAsync(options, work);
                }
            }
            if (postDataDue && overlapped is null)
            {
                await Phase("post-data");
                if (deferred)
                {
                    logger.LogWarning("The target role may not set session_replication_role: foreign keys and triggers are created at cutover");
                    await using var mark = new NpgsqlCommand("UPDATE pgshift.tasks SET deferred_post_data = true WHERE name = @t", state);
                    mark.Parameters.AddWithValue("t", options.TaskName);
                    await mark.ExecuteNonQueryAsync(ct);
                }
                result.Schema.Add(await new SchemaMigrator(logger).CreatePostDataAsync(options.SchemaOptions(options.Incremental, deferred), work));
            }
            await watchEnd.CancelAsync();
            await watcher;
            if (stopped.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return await StopAsync();
            }
            if (options.Incremental)
            {
                await Phase("stream");
                result.Stream = await Stream.RunAsync(options.StreamOptions(taskLock.EnsureHeldAsync), cutover, ct);
                // The stream may have outlived a restart of the target, which closed this connection.
                state = await stateConnection.ReviveAsync(ct);
                if (result.Stream == StreamOutcome.Stopped)
                {
                    return await StopAsync();
                }
                await Phase("cutover");
                result.Schema.Add(await new CutoverSteps(logger).FinishAsync(options, ct));
            }
            await Phase("finished");
            result.Finished = true;
            return result;
        }
        catch (Exception) when (stopped.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // Cancelled for the stop request (whatever the cancelled command threw).
            logger.LogInformation("Stopped on request");
            await watchEnd.CancelAsync();
            await watcher;
            return await StopAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            try
            {
                state = await stateConnection.ReviveAsync(CancellationToken.None);
                await TaskState.RecordErrorAsync(state, options.TaskName, ex.Message, CancellationToken.None);
            }
            catch (Exception recordFailure) when (recordFailure is NpgsqlException or InvalidOperationException or PgShiftException)
            {
                logger.LogWarning("Could not record the error in the task state: {Message}", Redactor.Redact(recordFailure.Message));
            }
            throw new TaskFailedException($"Task {options.TaskName} failed: {ex.Message}",
                (ex as PgShiftException)?.Fix ?? "See the error; 'pgshift migrate' resumes the task once its cause is fixed.", ex);
        }
    }

    /// <summary>
    /// The full copy, resumed in this process when it failed for a reason that waiting fixes: a lost connection, or a
    /// source restart that took the exported snapshot along with the connection holding it. Tables already copied stay;
    /// the others are emptied and copied again from a fresh snapshot whose point becomes their sync LSN (as when a
    /// killed process resumes), until the retry window closes.
    /// </summary>
    private async Task<FullCopyResult> CopyAsync(MigrationOptions options, CancellationToken ct)
    {
        var outage = new Outage(options.RetryWindow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                return await Copier.RunAsync(options.CopyOptions(options.Incremental), ct);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && CopyCanResume(ex, options))
            {
                if (!outage.Failed())
                {
                    throw;
                }
                logger.LogWarning("The copy was interrupted: {Error} Resuming in {Delay:0}s (until {Deadline:u}): the tables not yet copied are copied again from a new snapshot",
                    Redactor.Redact(ex.Message), outage.Delay.TotalSeconds, outage.Deadline);
                await outage.WaitAsync(ct);
            }
        }
    }

    private static bool CopyCanResume(Exception ex, MigrationOptions options)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            // "invalid snapshot identifier": the connection that exported it is gone.
            if (e is PostgresException { SqlState: "22023" } pe && pe.MessageText.Contains("snapshot", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return ConnectionFailure.From(ex, options.Source).IsTransient;
    }

    /// <summary>Polls the task's stop request until <paramref name="end"/>; cancels <paramref name="stop"/> when there is one.</summary>
    private async Task WatchForStopAsync(MigrationOptions options, CancellationTokenSource stop, CancellationToken end)
    {
        NpgsqlConnection? conn = null;
        try
        {
            while (!end.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), end);
                try
                {
                    conn ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift stop watch", end);
                    await using var cmd = new NpgsqlCommand("SELECT stop_requested FROM pgshift.tasks WHERE name = @t", conn);
                    cmd.Parameters.AddWithValue("t", options.TaskName);
                    if (await cmd.ExecuteScalarAsync(end) is true)
                    {
                        logger.LogInformation("Stop requested: cancelling the work in progress");
                        await stop.CancelAsync();
                        return;
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or PgShiftException or InvalidOperationException && !end.IsCancellationRequested)
                {
                    // The phase itself meets the same outage and retries it; look again at the next tick.
                    if (conn is not null)
                    {
                        await conn.DisposeAsync();
                        conn = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
        }
        finally
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }
    }

    private static async Task<bool> CanSetReplicaRoleAsync(ConnectionSpec target, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(target, "pgshift check", ct);
        try
        {
            await using var cmd = new NpgsqlCommand("SET session_replication_role = replica", conn);
            await cmd.ExecuteNonQueryAsync(ct);
            return true;
        }
        catch (PostgresException pe) when (pe.SqlState == "42501")
        {
            return false;
        }
    }
}

/// <summary>The task's connection to its state on the target, opened again when a restart of the target closed it.</summary>
internal sealed class StateConnection(ConnectionSpec target) : IAsyncDisposable
{
    private NpgsqlConnection? _connection;

    public async Task<NpgsqlConnection> ReviveAsync(CancellationToken ct)
    {
        if (_connection is not null)
        {
            if (await ConnectionOpener.IsAliveAsync(_connection, ct))
            {
                return _connection;
            }
            await _connection.DisposeAsync();
            _connection = null;
        }
        return _connection = await ConnectionOpener.OpenAsync(target, "pgshift state", ct);
    }

    public ValueTask DisposeAsync() => _connection?.DisposeAsync() ?? ValueTask.CompletedTask;
}
