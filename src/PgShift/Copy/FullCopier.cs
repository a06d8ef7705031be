using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.LargeObjects;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Copy;

/// <summary>The task's settings, for the copy. Copy reads from the task's slot's snapshot when the task streams (Incremental).</summary>
public sealed record FullCopyOptions : TaskSettings
{
    public FullCopyOptions()
    {
    }

    [SetsRequiredMembers]
    public FullCopyOptions(TaskSettings settings) : base(settings)
    {
    }

    /// <summary>Copy only tables the task already knows (at cutover: not tables created on the source since).</summary>
    public bool KnownTablesOnly { get; init; }
}

/// <param name="LargeObjects">What the copy did with the large objects; null when it had none to copy (not selected, or copied by an earlier run).</param>
public sealed record FullCopyResult(int Tables, int TablesSkipped, long Rows, long Bytes, double Seconds, NpgsqlLogSequenceNumber? ConsistentLsn,
    LargeObjectOutcome? LargeObjects = null);

/// <summary>
/// The full data migration: every selected leaf table copied from one consistent source snapshot by
/// parallel workers, largest first; a table already copied by an earlier run of the task is skipped, and
/// every other one is emptied and copied again from a fresh snapshot, whose position becomes its sync LSN. Then the
/// user's rows of extensions' configuration tables (<see cref="ExtensionConfigCopier"/>), on every run: the change
/// stream does not carry them, so the cutover's last copy brings them up to date.
/// </summary>
public sealed class FullCopier(ILogger logger)
{
    public CopyProgress Progress { get; } = new();

    /// <summary>Bytes a second that the workers together read from the source.</summary>
    public Throttle Throttle { get; init; } = Throttle.Unlimited;

    /// <summary>Where the units' retries are counted, for the task's progress.</summary>
    public IncidentLog? Incidents { get; init; }

    /// <summary>
    /// The retry of one unit of the copy: a lost connection is waited out within the task's retry window and the unit
    /// copied again on new sessions; a lost snapshot is left to the task, which takes a new one.
    /// </summary>
    private RetryLoop UnitRetry(FullCopyOptions options, CopyUnit unit)
    {
        var retry = new RetryLoop($"Copying {unit.Table.Source}", options.RetryWindow, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30))
        {
            CanRetry = ex => ex is not SnapshotLostException && Transience.IsTransient(ex),
            Incidents = Incidents,
            Describe = ex => ConnectionFailure.From(ex, options.Source) is var f ? (f.Problem, f.Fix) : default,
        };
        retry.Retrying += (ex, delay, deadline) => logger.LogWarning("Copying {Table} failed: {Problem} Retrying in {Delay:0.0}s (until {Deadline:u}).",
            unit.Table.Source, ConnectionFailure.From(ex, options.Source).Problem, delay.TotalSeconds, deadline);
        return retry;
    }

    /// <summary>Raised once the snapshot that the pending tables are copied from exists, before any worker reads.</summary>
    public event Action<ExportedSnapshot>? SnapshotTaken;

    /// <summary>
    /// Raised when a table's copy is committed on the target; and, when a copy resumes, at its start for each table that
    /// an earlier run copied (its keys and indexes may be built, and its changes applied, from then on).
    /// </summary>
    public event Action<TableCopyPlan>? TableCopied;

    public async Task<FullCopyResult> RunAsync(FullCopyOptions options, CancellationToken ct)
    {
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", ct);
        var plans = await PlanAsync(options, target, ct);
        var (pending, progressByTable) = await RegisterAsync(options, plans, target, ct);
        var largeObjectsDue = options.LargeObjects && !await LargeObjectState.CopiedAsync(target, options.TaskName, ct);

        NpgsqlLogSequenceNumber? consistentLsn = null;
        if (options.Incremental)
        {
            consistentLsn = await EnsurePublicationAndSlotAsync(options, plans, target, pending.Count > 0 || largeObjectsDue, ct);
        }
        if (pending.Count == 0 && !largeObjectsDue)
        {
            await new ExtensionConfigCopier(logger).CopyAsync(options.Source, options.Target, options.TaskName, null, ct);
            Progress.FinishedAt = DateTime.UtcNow;
            return new FullCopyResult(0, plans.Count, 0, 0, Progress.Seconds, consistentLsn);
        }

        // The first run's tables are copied from the task slot's snapshot; a resumed run's from a fresh one.
        // The task slot's snapshot serves one run only: a run resumed in the same process takes a fresh one.
        var snapshot = _slotSnapshot ?? await FreshSnapshotAsync(options, ct);
        _slotSnapshot = null;
        var toCopy = pending;
        LargeObjectOutcome? largeObjects = null;
        try
        {
            for (var round = 1; toCopy.Count > 0; round++)
            {
                logger.LogInformation("Copying {Count} tables from snapshot {Snapshot} at {Lsn}", toCopy.Count, snapshot.Name, snapshot.Lsn);
                SnapshotTaken?.Invoke(snapshot);
                var rewritten = await CopyFromSnapshotAsync(options, toCopy, snapshot, target, progressByTable, ct);
                if (rewritten.Count == 0)
                {
                    break;
                }
                // TRUNCATE (and any rewrite) is not MVCC-safe: under the snapshot, such a table reads as empty, and the
                // changes between the snapshot and the TRUNCATE would find none of the rows they change. A new snapshot,
                // taken after it, gives these tables a sync LSN of their own past it.
                logger.LogWarning("{Tables} truncated or rewritten on the source after the snapshot was taken: copying {Them} again from a new snapshot",
                    string.Join(", ", rewritten.Select(p => p.Source.ToString())), rewritten.Count == 1 ? "it" : "them");
                if (round >= 10)
                {
                    throw new PgShiftException($"{string.Join(", ", rewritten.Select(p => p.Source.ToString()))} kept being truncated or rewritten on the source while they were copied (10 snapshots).",
                        "Pause the job that truncates them (or leave them out with --exclude-table), then run 'pgshift migrate' again: the task resumes.");
                }
                await snapshot.DisposeAsync();
                snapshot = await FreshSnapshotAsync(options, ct);
                toCopy = rewritten;
            }
            await new ExtensionConfigCopier(logger).CopyAsync(options.Source, options.Target, options.TaskName, snapshot.Name, ct);
            if (largeObjectsDue)
            {
                largeObjects = await CopyLargeObjectsAsync(options, snapshot, target, ct);
            }
        }
        finally
        {
            await snapshot.DisposeAsync();
        }
        Progress.FinishedAt = DateTime.UtcNow;
        return new FullCopyResult(pending.Count, plans.Count - pending.Count, Progress.Rows, Progress.Bytes, Progress.Seconds, consistentLsn ?? snapshot.Lsn, largeObjects);
    }

    /// <summary>The selected tables, planned from one read-only view of the source, largest first; at cutover or once the slot exists, only those the task knows.</summary>
    private static async Task<List<TableCopyPlan>> PlanAsync(FullCopyOptions options, NpgsqlConnection target, CancellationToken ct)
    {
        List<TableCopyPlan> plans;
        await using (var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift copy", ct))
        {
            await using (var begin = new NpgsqlCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", source))
            {
                await begin.ExecuteNonQueryAsync(ct);
            }
            var selected = await SelectedTables.LoadAsync(source, options.Selection, ct);
            plans = await CopyPlanner.PlanAsync(source, selected.Tables.Keys, options.Mapping, options.ExcludedColumns, options.SplitThresholdBytes, ct);
        }
        // A table the schema phase left out (it needs an object that cannot be created) is not on the target: not copied, not streamed.
        var leftOut = (await SkippedObject.LoadAsync(target, options.TaskName, ct)).Select(s => s.Table).OfType<string>().ToHashSet(StringComparer.Ordinal);
        plans = plans.Where(p => !leftOut.Contains(p.SourceKey)).ToList();
        // Once the task's publication exists, its tables are fixed: one created on the source since then is not streamed
        // (and not on the target); the cutover names it.
        if (options.KnownTablesOnly || options.Incremental && await SlotRecord.IsRecordedAsync(target, options.TaskName, ct))
        {
            var known = await CopyState.KnownAsync(target, options.TaskName, ct);
            plans = plans.Where(p => known.Contains(p.SourceKey)).ToList();
        }
        return plans;
    }

    /// <summary>Records the plans in the task's state and starts the progress; returns the tables not copied yet.</summary>
    private async Task<(List<TableCopyPlan> ToCopy, Dictionary<string, TableProgress> ProgressByTable)> RegisterAsync(FullCopyOptions options,
        List<TableCopyPlan> plans, NpgsqlConnection target, CancellationToken ct)
    {
        await CopyState.RegisterAsync(target, options.TaskName, plans.Select(p => new PlannedTable(p.SourceKey, p.Target.ToString(), p.EstimatedBytes, p.EstimatedRows, p.StreamColumns)), ct);
        var done = await CopyState.DoneAsync(target, options.TaskName, ct);
        var pending = plans.Where(p => !done.Contains(p.SourceKey)).ToList();
        Progress.Begin(plans.Select(p => new TableProgress(p.Source, p.EstimatedBytes, p.EstimatedRows) { Skipped = done.Contains(p.SourceKey) }).ToList());
        foreach (var skipped in Progress.Tables.Where(t => t.Skipped))
        {
            skipped.FinishedAt = DateTime.UtcNow;
        }
        if (done.Count > 0)
        {
            logger.LogInformation("Resuming task {Task}: {Done} tables already copied, {Pending} to copy again", options.TaskName, done.Count, pending.Count);
            foreach (var plan in plans.Where(p => done.Contains(p.SourceKey)))
            {
                TableCopied?.Invoke(plan);
            }
        }
        return (pending, Progress.Tables.ToDictionary(t => t.Table.ToString(), StringComparer.Ordinal));
    }

    /// <summary>A snapshot of the source for tables copied after the task slot's: with a position of its own (a temporary slot's) when the stream follows.</summary>
    private static async Task<ExportedSnapshot> FreshSnapshotAsync(FullCopyOptions options, CancellationToken ct) => options.Incremental
        ? await ExportedSnapshot.FromNewSlotAsync(options.Source, TaskName.TemporarySlotName(options.TaskName, "resume"), temporary: true, ct)
        : await ExportedSnapshot.FromTransactionAsync(options.Source, ct);

    /// <summary>
    /// Copies the tables from one snapshot with parallel workers, each table marked copied (with the snapshot's position
    /// as its sync LSN) as it commits. Returns the tables found truncated or rewritten since the snapshot, not copied.
    /// </summary>
    private async Task<List<TableCopyPlan>> CopyFromSnapshotAsync(FullCopyOptions options, List<TableCopyPlan> pending, ExportedSnapshot snapshot,
        NpgsqlConnection target, Dictionary<string, TableProgress> progressByTable, CancellationToken ct)
    {
        var round = new SnapshotRound(snapshot, progressByTable);
        foreach (var plan in pending)
        {
            if (plan.IsSplit)
            {
                // Ranges load in separate transactions: empty the table once, before any of them.
                await using var truncate = new NpgsqlCommand($"TRUNCATE ONLY {plan.Target}", target);
                await truncate.ExecuteNonQueryAsync(ct);
            }
            round.Remaining[plan.SourceKey] = plan.Ranges.Count;
        }
        // Each worker keeps its two sessions from one unit to the next; a pool hands them over.
        var sessions = new ConcurrentBag<WorkerSessions>();
        using var reporterStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reporter = ReportProgressAsync(options, reporterStop.Token);
        var copying = Parallel.ForEachAsync(pending.SelectMany(plan => plan.Ranges.Select((r, i) => new CopyUnit(plan, r, i))),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Jobs), CancellationToken = ct },
            async (unit, c) =>
            {
                var pair = sessions.TryTake(out var free) ? free : new WorkerSessions();
                try
                {
                    await CopyUnitAsync(options, unit, round, pair, c);
                }
                finally
                {
                    sessions.Add(pair);
                }
            });
        try
        {
            await ParallelWork.WhenDoneAsync(copying);
        }
        finally
        {
            await reporterStop.CancelAsync();
            try { await reporter; } catch (OperationCanceledException) { }
            foreach (var pair in sessions)
            {
                await pair.DisposeAsync();
            }
        }
        // A split table of which some ranges were copied from this snapshot starts over (emptied) with the next one.
        return [.. round.Rewritten.Values];
    }

    /// <summary>What the workers of one snapshot share: ranges left per table, totals, and the tables found rewritten.</summary>
    private sealed class SnapshotRound(ExportedSnapshot snapshot, Dictionary<string, TableProgress> progressByTable)
    {
        public ExportedSnapshot Snapshot { get; } = snapshot;
        public Dictionary<string, TableProgress> ProgressByTable { get; } = progressByTable;
        public ConcurrentDictionary<string, int> Remaining { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, (long Rows, long Bytes)> Totals { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, TableCopyPlan> Rewritten { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Copies one unit (a table, or a range of one) and, once its table's last unit commits, marks the table copied.</summary>
    private async Task CopyUnitAsync(FullCopyOptions options, CopyUnit unit, SnapshotRound round, WorkerSessions sessions, CancellationToken ct)
    {
        if (round.Rewritten.ContainsKey(unit.Table.SourceKey))
        {
            return;
        }
        var table = round.ProgressByTable[unit.Table.SourceKey];
        table.StartedAt ??= DateTime.UtcNow;
        var result = await UnitRetry(options, unit).RunAsync(async c =>
        {
            try
            {
                sessions.Source ??= await ConnectionOpener.OpenAsync(options.Source, "pgshift copy", c);
                sessions.Target ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", c);
                return await new TableCopier(sessions.Source, sessions.Target, options.TaskName, Throttle)
                    .CopyAsync(unit, round.Snapshot.Name, round.Snapshot.Lsn, !unit.Table.IsSplit, table, c);
            }
            catch
            {
                // A failed unit's transactions are rolled back with their connections; a retry starts afresh.
                await sessions.DisposeAsync();
                throw;
            }
        }, ct);
        if (result is not var (rows, bytes))
        {
            round.Rewritten.TryAdd(unit.Table.SourceKey, unit.Table);
            return;
        }
        var sum = round.Totals.AddOrUpdate(unit.Table.SourceKey, (rows, bytes), (_, t) => (t.Rows + rows, t.Bytes + bytes));
        if (round.Remaining.AddOrUpdate(unit.Table.SourceKey, 0, (_, n) => n - 1) == 0 && !round.Rewritten.ContainsKey(unit.Table.SourceKey))
        {
            if (unit.Table.IsSplit)
            {
                sessions.Target ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", ct);
                await CopyState.MarkDoneAsync(sessions.Target, null, options.TaskName, unit.Table.SourceKey, round.Snapshot.Lsn, sum.Rows, sum.Bytes, ct);
            }
            table.FinishedAt = DateTime.UtcNow;
            TableCopied?.Invoke(unit.Table);
            logger.LogInformation("Copied {Table}: {Rows} rows, {MB:0.0} MB", unit.Table.Source, sum.Rows, sum.Bytes / 1048576.0);
        }
    }

    /// <summary>
    /// The large objects, from the snapshot the last tables were copied from, by the copy's workers; objects the target
    /// holds already (from an earlier run) are left as they are: the cutover compares them all.
    /// </summary>
    private async Task<LargeObjectOutcome> CopyLargeObjectsAsync(FullCopyOptions options, ExportedSnapshot snapshot, NpgsqlConnection target, CancellationToken ct)
    {
        var pass = new LargeObjectPass(options.Source, options.Target, snapshot.Name, options.Jobs, Progress.LargeObjects);
        var outcome = await new LargeObjectSync(logger).CopyAsync(pass, ct);
        await LargeObjectState.MarkCopiedAsync(target, options.TaskName, ct);
        foreach (var warning in outcome.Warnings)
        {
            logger.LogWarning("{Warning}", warning);
        }
        return outcome;
    }

    private ExportedSnapshot? _slotSnapshot;

    /// <summary>The task's publication and slot (see <see cref="TaskSlot.EnsureAsync"/>); the new slot's snapshot is kept for the copy when one is needed.</summary>
    private async Task<NpgsqlLogSequenceNumber> EnsurePublicationAndSlotAsync(FullCopyOptions options, List<TableCopyPlan> plans, NpgsqlConnection target,
        bool needSnapshot, CancellationToken ct)
    {
        var (lsn, snapshot) = await TaskSlot.EnsureAsync(options.Source, target, options.TaskName, plans.Select(p => p.SourceOid).ToList(),
            plans.Where(p => !p.Unlogged).Select(p => p.Source).ToList(), needSnapshot, logger, ct, captureSchemaChanges: !options.WayBack);
        if (snapshot is not null)
        {
            _slotSnapshot = snapshot;
        }
        return lsn;
    }

    private async Task ReportProgressAsync(FullCopyOptions options, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(options.Target, "pgshift progress", ct);
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            await CopyState.ReportProgressAsync(conn, options.TaskName,
                Progress.Tables.Where(t => !t.Skipped && t.StartedAt is not null).Select(t => (t.Table.ToString(), t.Rows, t.Bytes, true)).ToList(), ct);
        }
    }
}
