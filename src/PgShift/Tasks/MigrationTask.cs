using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.Cutover;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.Schema;
using PgShift.Settings;
using PgShift.State;
using PgShift.Stream;
using PgShift.Throttling;

namespace PgShift.Tasks;

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
/// <param name="throttles">The task's throttles, set from its state while it runs (<see cref="TaskLimits"/>).</param>
/// <param name="incidents">Where the task's retries and errors are counted.</param>
public sealed class MigrationTask(ILogger logger, TaskThrottles throttles, IncidentLog incidents)
{
    public MigrationTask(ILogger logger) : this(logger, new TaskThrottles(), new IncidentLog())
    {
    }

    public FullCopier Copier { get; } = new(logger) { Throttle = throttles.Copy, Incidents = incidents };
    public StreamRunner Stream { get; } = new(logger) { Throttle = throttles.Apply, Incidents = incidents };

    /// <summary>
    /// Raised with the task's progress, one call at a time: as it enters a phase (schema, copy, post-data, stream, cutover,
    /// finished, stopped), and twice a second while it runs.
    /// </summary>
    public event Action<TaskProgress>? ProgressChanged;

    /// <summary>The phase the task is in (null before it starts).</summary>
    private TaskPhase? _phase;
    /// <summary>The phase published: the last one recorded in the task's state.</summary>
    private TaskPhase? _shownPhase;
    private bool _streamed;
    private readonly Lock _publishing = new();

    /// <summary>The task being run (null before <see cref="RunAsync"/>).</summary>
    private string? _task;

    private void PublishProgress(string task)
    {
        lock (_publishing)
        {
            ProgressChanged?.Invoke(Snapshot(task));
        }
    }

    private TaskProgress Snapshot(string task) => new(task, _shownPhase, Copier.Progress.Snapshot(), _streamed ? Stream.Progress.Snapshot() : null)
    {
        Limits = throttles.Limits,
        Incidents = incidents.Snapshot(),
    };

    /// <summary>The task's progress now (what <see cref="ProgressChanged"/> publishes, without waiting for its next call); null before the task starts.</summary>
    public TaskProgress? CurrentProgress() => _task is { } task ? Snapshot(task) : null;

    /// <param name="cutover">Stream until caught up, then cut over (pgshift cutover when no migrate process runs).</param>
    public async Task<MigrationResult> RunAsync(TaskSettings options, bool cutover, CancellationToken ct)
    {
        // The copy and the stream retry lost connections themselves; the schema phases and the cutover's steps commit
        // object by object, so after a lost connection the task resumes from its state, as a killed process would.
        logger.LogInformation("Task {Task}: {Jobs} jobs, conflict policy {Conflicts}, split threshold {Split:0.#} MB, retry window {Window}",
            options.TaskName, options.Jobs, options.Conflicts.ToString().ToLowerInvariant(), options.SplitThresholdBytes / 1048576.0, options.RetryWindow);
        _task = options.TaskName;
        await using var ticker = new ProgressTicker(() => PublishProgress(options.TaskName), TimeSpan.FromMilliseconds(500));
        RetryLoop? retry = null;
        retry = new RetryLoop($"Task {options.TaskName}", options.RetryWindow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30))
        {
            Incidents = incidents,
            CanRetry = ex => (retry!.Ongoing || _phase?.ResumesFromState() == true) && Transience.IsTransient(ex),
            KeepFailureWhenClosed = true,
        };
        retry.Retrying += (ex, delay, deadline) => logger.LogWarning("Task {Task} was interrupted in its {Phase} phase: {Error} Resuming in {Delay:0}s (until {Deadline:u})",
            options.TaskName, _phase?.Text(), Redactor.Redact((ex is TaskFailedException { InnerException: { } cause } ? cause : ex).Message), delay.TotalSeconds, deadline);
        try
        {
            return await retry.RunAsync(c =>
            {
                _phase = null;
                return RunOnceAsync(options, cutover, c);
            }, ct);
        }
        finally
        {
            // The run is over: no timer of a throttle outlives it.
            throttles.Set(RateLimits.None);
        }
    }

    /// <summary>One run of the task, as its state says it stands: the phases are skipped or resumed from there.</summary>
    private sealed class Run(TaskSettings options, StateConnection stateConnection) : IAsyncDisposable
    {
        public TaskSettings Options { get; } = options;
        public StateConnection StateConnection { get; } = stateConnection;
        /// <summary>The session to the task's state, opened again after a restart of the target (<see cref="ReviveStateAsync"/>).</summary>
        public NpgsqlConnection State { get; private set; } = null!;
        public MigrationResult Result { get; } = new();
        /// <summary>The phase the task's state recorded when this run started (null for a new task).</summary>
        public TaskPhase? RecordedPhase { get; set; }
        /// <summary>Sets the task's throttles from its state while it runs; started once its row exists.</summary>
        public StateWatch? Limits { get; set; }
        /// <summary>Applies what is staged to the tables copied and indexed, while the others copy (when changes are staged).</summary>
        public ReadyTableApplier? ReadyTables { get; set; }

        public async Task<NpgsqlConnection> ReviveStateAsync(CancellationToken ct) => State = await StateConnection.ReviveAsync(ct);

        public async ValueTask DisposeAsync()
        {
            if (Limits is { } limits)
            {
                await limits.DisposeAsync();
            }
        }
    }

    private async Task<MigrationResult> RunOnceAsync(TaskSettings options, bool cutover, CancellationToken ct)
    {
        await using var taskLock = await LockAsync(options, ct);
        await using var stateConnection = new StateConnection(options.Target);
        await using var run = new Run(options, stateConnection);
        await run.ReviveStateAsync(ct);
        if (!await MayStartAsync(run, ct))
        {
            return run.Result;
        }
        // Until the stream runs (which answers a stop itself, at a transaction boundary), a stop request cancels
        // the phase at hand: what it did is rolled back or recopied when the task resumes.
        using var stopped = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var watcher = WatchForStop(options, stopped);
        try
        {
            await RunUntilStreamAsync(run, stopped.Token, ct);
            await watcher.DisposeAsync();
            if (stopped.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                return await StopAsync(run, ct);
            }
            return await StreamAndCutOverAsync(run, taskLock, cutover, ct);
        }
        catch (Exception) when (stopped.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // Cancelled for the stop request (whatever the cancelled command threw).
            logger.LogInformation("Stopped on request");
            await watcher.DisposeAsync();
            return await StopAsync(run, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await RecordFailureAsync(run, ex);
            throw new TaskFailedException($"Task {options.TaskName} failed: {ex.Message}",
                (ex as PgShiftException)?.Fix ?? $"See the error; 'pgshift migrate{(options.WayBack ? " --reverse" : "")}' resumes the task once its cause is fixed.", ex);
        }
    }

    private static async Task<TaskLock> LockAsync(TaskSettings options, CancellationToken ct)
    {
        try
        {
            return await TaskLock.AcquireAsync(options.Target, options.TaskName, ct);
        }
        catch (ConnectionFailedException ex)
        {
            // The same failure as the precheck's for the source (exit code 1, not 2): the target is the first server a task reaches.
            throw new TaskFailedException($"Task {options.TaskName} did not start: [target.connect] Cannot connect to the target: {ex.Failure.Problem}", ex.Failure.Fix, ex);
        }
    }

    /// <summary>False when the task is finished already; refuses a new task that cannot start or whose precheck fails.</summary>
    private static async Task<bool> MayStartAsync(Run run, CancellationToken ct)
    {
        var options = run.Options;
        var current = await TaskStatusReport.LoadAsync(run.State, options.TaskName, ct);
        run.RecordedPhase = current?.Phase;
        if (current?.Phase == TaskPhase.Finished)
        {
            run.Result.AlreadyFinished = run.Result.Finished = true;
            return false;
        }
        if (current is not null)
        {
            return true;
        }
        if (options.WayBack)
        {
            throw new TaskFailedException($"Task {options.TaskName} has no way back on {options.Target}: its cutover did not prepare one.",
                $"Cut the task over with 'pgshift cutover --reverse --task {options.TaskName}' (or reverse: true in the task file); that creates the reverse slot and this state.");
        }
        if (options.Incremental && !options.Full)
        {
            // Checked before anything is written: a task row left behind would make the next run skip the precheck.
            throw new TaskFailedException(
                $"Task {options.TaskName} does not exist on the target yet, and --types {string.Join(",", new[] { options.Schema ? "schema" : null, "incremental" }.OfType<string>())} cannot start it: "
                + "the change stream starts from the slot and snapshot that the task's full copy creates.",
                "Start the task with its full copy: --types schema,full,incremental (the default), or full,incremental when the tables already exist on the target; "
                + "--types incremental resumes the change stream of a task that has one.");
        }
        // A new task starts only when the precheck passes: bad input changes nothing on either server.
        var precheck = await SchemaPrecheck.Runner(options).RunAsync(new Precheck.PrecheckOptions(options), ct);
        var failed = precheck.Checks.Where(c => c.Status == Precheck.CheckStatus.Failed).ToList();
        if (failed.Count > 0)
        {
            throw new TaskFailedException(
                $"The precheck failed, so task {options.TaskName} did not start: " + string.Join(" ", failed.Select(c => $"[{c.Id}] {c.Message}")),
                string.Join(" ", failed.Select(c => c.Fix)) + " ('pgshift precheck' shows every check.)");
        }
        return true;
    }

    private async Task SetPhaseAsync(Run run, TaskPhase phase, CancellationToken ct)
    {
        _phase = phase;
        await TaskState.SetPhaseAsync(run.State, run.Options.TaskName, run.Options.Source.ToString(), phase, ct);
        if (run.Options.StoredForm is { } settings)
        {
            await TaskSettingsStore.SaveIfNewAsync(run.State, run.Options.TaskName, settings, ct);
        }
        if (run.Limits is null)
        {
            // The limits given to this command replace the task's; those not given stay as its state has them.
            await TaskLimits.SetAsync(run.State, run.Options.TaskName, run.Options.MaxCopyRate, run.Options.MaxApplyRate, ct);
            throttles.Set(await TaskLimits.LoadAsync(run.State, run.Options.TaskName, ct));
            run.Limits = WatchLimits(run.Options);
        }
        _shownPhase = phase;
        _streamed |= phase == TaskPhase.Stream;
        PublishProgress(run.Options.TaskName);
    }

    private async Task<MigrationResult> StopAsync(Run run, CancellationToken ct)
    {
        await TaskRequests.ClearStopAsync(run.State, run.Options.TaskName, ct);
        await SetPhaseAsync(run, TaskPhase.Stopped, ct);
        run.Result.Stopped = true;
        return run.Result;
    }

    /// <summary>
    /// The phases before the stream, with the slot read meanwhile and its changes staged on the target (once the slot
    /// exists, and until the stream has applied anything), so the source does not keep the WAL of the whole copy.
    /// </summary>
    private async Task RunUntilStreamAsync(Run run, CancellationToken work, CancellationToken ct)
    {
        var options = run.Options;
        if (options.Incremental && run.RecordedPhase == TaskPhase.Stream)
        {
            // The phases before the stream all finished before the stream began (or post-data waits for the cutover):
            // a resumed stream starts at once, without reading the source's schema and the copy's plan again.
            logger.LogInformation("Task {Task} resumes its change stream", options.TaskName);
            return;
        }
        if (!options.Incremental || !options.Full || options.WayBack || await StreamCheckpoint.HasAppliedAsync(run.State, options.TaskName, ct))
        {
            await RunPhasesUntilStreamAsync(run, work, ct);
            return;
        }
        await using var stager = new ChangeStager(new StreamOptions(options), logger);
        await using var readyTables = new ReadyTableApplier(new StreamOptions(options), throttles.Apply, logger);
        run.ReadyTables = readyTables;
        void OnSnapshot(Replication.ExportedSnapshot _) => stager.Start();
        Copier.SnapshotTaken += OnSnapshot;
        try
        {
            if (await SlotRecord.IsRecordedAsync(run.State, options.TaskName, ct))
            {
                stager.Start();
            }
            await RunPhasesUntilStreamAsync(run, work, ct);
        }
        finally
        {
            Copier.SnapshotTaken -= OnSnapshot;
            await readyTables.StopAsync();
            run.ReadyTables = null;
            await stager.StopAsync();
        }
    }

    /// <summary>The schema before the data, the copy, and the schema after it (overlapping the copy when it can); <paramref name="work"/> ends at a stop request.</summary>
    private async Task RunPhasesUntilStreamAsync(Run run, CancellationToken work, CancellationToken ct)
    {
        var options = run.Options;
        var deferred = options.Incremental && !await CanSetReplicaRoleAsync(options.Target, ct);
        if (options.Schema)
        {
            await SetPhaseAsync(run, TaskPhase.Schema, ct);
            run.Result.Schema.Add(await new SchemaMigrator(logger).CreatePreDataAsync(SchemaOptions(options, deferred), work));
        }
        var postDataDue = options.Schema && !await StateSchema.PhaseDoneAsync(run.State, options.TaskName, SchemaMigrator.PostDataPhase, ct);
        if (options.Full)
        {
            await SetPhaseAsync(run, TaskPhase.Copy, ct);
            if (postDataDue && !deferred)
            {
                await CopyWithPostDataAsync(run, work, ct);
                return;
            }
            run.Result.Copy = await CopyAsync(options, work);
        }
        if (postDataDue)
        {
            await SetPhaseAsync(run, TaskPhase.PostData, ct);
            if (deferred)
            {
                logger.LogWarning("The target role may not set session_replication_role: foreign keys and triggers are created at cutover");
                await TaskState.MarkPostDataDeferredAsync(run.State, options.TaskName, ct);
            }
            run.Result.Schema.Add(await new SchemaMigrator(logger).CreatePostDataAsync(SchemaOptions(options, deferred), work));
        }
    }

    /// <summary>
    /// The copy, with the keys and indexes of each table built as soon as its copy commits, while the others still copy;
    /// and when changes are staged, those of the tables built applied meanwhile, until every key and index is built
    /// (the views, foreign keys and triggers that come next lock several tables at once).
    /// </summary>
    private async Task CopyWithPostDataAsync(Run run, CancellationToken work, CancellationToken ct)
    {
        var ready = System.Threading.Channels.Channel.CreateUnbounded<Catalog.QualifiedName>();
        Copier.TableCopied += plan => ready.Writer.TryWrite(plan.Source);
        using var copyFailed = CancellationTokenSource.CreateLinkedTokenSource(work);
        var readyTables = run.ReadyTables;
        readyTables?.Start();
        var progress = readyTables is null ? null : new PostDataProgress(readyTables.TableReady, async () =>
        {
            await readyTables.StopAsync();
            logger.LogInformation("Applied {Count} staged changes to tables copied and indexed while the others were copied and indexed", readyTables.Applied);
        });
        try
        {
            var overlapped = new SchemaMigrator(logger).CreatePostDataAsync(SchemaOptions(run.Options, deferred: false), copyFailed.Token, ready.Reader, progress);
            try
            {
                run.Result.Copy = await CopyAsync(run.Options, work);
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
            await SetPhaseAsync(run, TaskPhase.PostData, ct);
            run.Result.Schema.Add(await overlapped);
        }
        finally
        {
            if (readyTables is not null)
            {
                await readyTables.StopAsync();
            }
        }
    }

    /// <summary>Whether the task's capture of schema changes is on the source (it is created with the slot, when the source's user may).</summary>
    private static async Task<bool> CapturesSchemaChangesAsync(TaskSettings options, CancellationToken ct)
    {
        if (options.WayBack)
        {
            return false;
        }
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift stream", ct);
        return (await SchemaCapture.ObjectsAsync(source, options.TaskName, ct)).Count > 0;
    }

    /// <summary>The change stream until a stop or a cutover request (or caught up, for <paramref name="cutover"/>), then the cutover.</summary>
    private async Task<MigrationResult> StreamAndCutOverAsync(Run run, TaskLock taskLock, bool cutover, CancellationToken ct)
    {
        var options = run.Options;
        if (options.Incremental)
        {
            await SetPhaseAsync(run, TaskPhase.Stream, ct);
            run.Result.Stream = await Stream.RunAsync(new StreamOptions(options)
            {
                EnsureTaskLock = taskLock.EnsureHeldAsync,
                SchemaChanges = await CapturesSchemaChangesAsync(options, ct) ? new StreamSchemaChanges(options, logger) : null,
            }, cutover, ct);
            // The stream may have outlived a restart of the target, which closed the state's session.
            await run.ReviveStateAsync(ct);
            if (run.Result.Stream == StreamOutcome.Stopped)
            {
                return await StopAsync(run, ct);
            }
            await SetPhaseAsync(run, TaskPhase.Cutover, ct);
            run.Result.Schema.Add(options.WayBack ? await FinishFallbackAsync(options, ct) : await FinishCutoverAsync(options, ct));
        }
        await SetPhaseAsync(run, TaskPhase.Finished, ct);
        run.Result.Finished = true;
        return run.Result;
    }

    private async Task RecordFailureAsync(Run run, Exception ex)
    {
        try
        {
            await run.ReviveStateAsync(CancellationToken.None);
            incidents.Failed($"Task {run.Options.TaskName}", Redactor.Redact(ex.Message));
            await TaskState.RecordErrorAsync(run.State, run.Options.TaskName, ex.Message, CancellationToken.None);
        }
        catch (Exception recordFailure) when (recordFailure is NpgsqlException or InvalidOperationException or PgShiftException)
        {
            logger.LogWarning("Could not record the error in the task state: {Message}", Redactor.Redact(recordFailure.Message));
        }
    }

    /// <summary>
    /// The full copy, resumed in this process when it failed for a reason that waiting fixes: a lost connection, or a
    /// source restart that took the exported snapshot along with the connection holding it. Tables already copied stay;
    /// the others are emptied and copied again from a fresh snapshot whose point becomes their sync LSN (as when a
    /// killed process resumes), until the retry window closes.
    /// </summary>
    private async Task<FullCopyResult> CopyAsync(TaskSettings options, CancellationToken ct)
    {
        var retry = new RetryLoop("The copy", options.RetryWindow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)) { KeepFailureWhenClosed = true, Incidents = incidents };
        retry.Retrying += (ex, delay, deadline) => logger.LogWarning(
            "The copy was interrupted: {Error} Resuming in {Delay:0}s (until {Deadline:u}): the tables not yet copied are copied again from a new snapshot",
            Redactor.Redact(ex.Message), delay.TotalSeconds, deadline);
        return await retry.RunAsync(c => Copier.RunAsync(new FullCopyOptions(options), c), ct);
    }

    /// <summary>
    /// What the cutover does once the stream has caught up: copies again what logical decoding cannot carry (unlogged
    /// tables, large objects), builds what waited for it (foreign keys and triggers when the apply session could not bypass them, ENABLE
    /// ALWAYS states), syncs every sequence from the source's last_value, refreshes materialized views, analyzes.
    /// </summary>
    private async Task<SchemaReport> FinishCutoverAsync(TaskSettings options, CancellationToken ct)
    {
        var steps = new CutoverSteps(logger);
        var newTables = await steps.PrepareAsync(options, ct);
        await new FullCopier(logger) { Throttle = throttles.Copy, Incidents = incidents }.RunAsync(new FullCopyOptions(options with { Incremental = false, LargeObjects = false }) { KnownTablesOnly = true }, ct);
        var largeObjectNotes = options.LargeObjects ? await steps.SynchroniseLargeObjectsAsync(options, Copier.Progress.LargeObjects, ct) : [];
        HashSet<string> known;
        await using (var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift cutover", ct))
        {
            known = await CopyState.KnownAsync(target, options.TaskName, ct);
        }
        // Post-data again, as for a one-time copy: builds whatever is missing.
        var report = await new SchemaMigrator(logger).CreatePostDataAsync(new SchemaMigrationOptions(options) { KnownTables = known }, ct);
        report.Warnings.AddRange(await CutoverSteps.WarningsAsync(options, known, newTables, ct));
        report.Warnings.AddRange(largeObjectNotes);
        return report;
    }

    /// <summary>
    /// The cutover of a way back (the fallback), once the reverse stream has caught up with the new server fenced: the old
    /// server has its schema already, so only what logical decoding cannot carry follows (large objects and sequences), and
    /// what the way back changed there is put back (identity columns GENERATED ALWAYS, triggers and rules enabled ALWAYS or REPLICA).
    /// </summary>
    private async Task<SchemaReport> FinishFallbackAsync(TaskSettings options, CancellationToken ct)
    {
        var report = new SchemaReport();
        if (options.LargeObjects)
        {
            report.Warnings.AddRange(await new CutoverSteps(logger).SynchroniseLargeObjectsAsync(options, Copier.Progress.LargeObjects, ct));
        }
        report.Warnings.AddRange(await WayBackSteps.SyncSequencesAsync(options, ct));
        await WayBackSteps.RestoreAsync(options, ct);
        foreach (var table in await WayBackSteps.UnloggedTablesAsync(options, ct))
        {
            report.Warnings.Add($"Table {table} is unlogged: its rows written on the new server did not go back (unlogged tables write no WAL). Copy them yourself if they matter.");
        }
        return report;
    }

    private static SchemaMigrationOptions SchemaOptions(TaskSettings options, bool deferred)
        => new(options) { StreamFollows = options.Incremental, DeferForeignKeysAndTriggers = deferred };

    /// <summary>Reads the task's stop request twice a second; cancels <paramref name="stop"/> when there is one.</summary>
    private StateWatch WatchForStop(TaskSettings options, CancellationTokenSource stop)
        => new(options.Target, "pgshift stop watch", TimeSpan.FromMilliseconds(500), async (conn, ct) =>
        {
            if (!await TaskRequests.StopRequestedAsync(conn, options.TaskName, ct))
            {
                return false;
            }
            logger.LogInformation("Stop requested: cancelling the work in progress");
            await stop.CancelAsync();
            return true;
        });

    /// <summary>Reads the task's limits every two seconds and sets them on its throttles: how 'pgshift throttle' reaches the running task.</summary>
    private StateWatch WatchLimits(TaskSettings options) => new(options.Target, "pgshift throttle watch", TimeSpan.FromSeconds(2), async (conn, ct) =>
    {
        var limits = await TaskLimits.LoadAsync(conn, options.TaskName, ct);
        if (limits != throttles.Limits)
        {
            logger.LogInformation("Task {Task}: copy rate limit {Copy} bytes/s, apply rate limit {Apply} changes/s (0: none)",
                options.TaskName, limits.CopyBytesPerSecond, limits.ApplyChangesPerSecond);
            throttles.Set(limits);
        }
        return false;
    });

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
