using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Replication;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.Copy;

public sealed class FullCopyOptions
{
    public required ConnectionSpec Source { get; init; }
    public required ConnectionSpec Target { get; init; }
    public required string TaskName { get; init; }
    public TableSelection Selection { get; init; } = TableSelection.All;
    public ColumnExclusions ExcludedColumns { get; init; } = new();
    public NameMapping Mapping { get; init; } = NameMapping.None;
    public int Jobs { get; init; } = Math.Max(2, Environment.ProcessorCount);
    /// <summary>Tables larger than this on disk are copied in ranges by several workers; 0 never splits.</summary>
    public long SplitThresholdBytes { get; init; } = 1L << 30;
    /// <summary>The change stream follows the copy: take the snapshot from the task's slot, created after its publication.</summary>
    public bool Incremental { get; init; }
    public TimeSpan RetryWindow { get; init; } = Connections.RetryWindow.DefaultWindow;
    /// <summary>Copy only tables the task already knows (at cutover: not tables created on the source since).</summary>
    public bool KnownTablesOnly { get; init; }
}

public sealed record FullCopyResult(int Tables, int TablesSkipped, long Rows, long Bytes, double Seconds, NpgsqlLogSequenceNumber? ConsistentLsn);

/// <summary>
/// The full data migration: every selected leaf table copied from one consistent source snapshot by
/// parallel workers, largest first; a table already copied by an earlier run of the task is skipped, and
/// every other one is emptied and copied again from a fresh snapshot, whose position becomes its sync LSN.
/// </summary>
public sealed class FullCopier(ILogger logger)
{
    public CopyProgress Progress { get; } = new();

    /// <summary>Raised once the snapshot that the pending tables are copied from exists, before any worker reads.</summary>
    public event Action<ExportedSnapshot>? SnapshotTaken;

    /// <summary>Raised when a table's copy is committed on the target.</summary>
    public event Action<TableCopyPlan>? TableCopied;

    public async Task<FullCopyResult> RunAsync(FullCopyOptions options, CancellationToken ct)
    {
        List<TableCopyPlan> plans;
        await using (var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift copy", ct))
        {
            await using (var begin = new NpgsqlCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", source))
            {
                await begin.ExecuteNonQueryAsync(ct);
            }
            var reader = new SourceSchemaReader(source, new SchemaMigrationOptions
            {
                Source = options.Source, Target = options.Target, Selection = options.Selection,
                ExcludedColumns = options.ExcludedColumns, Mapping = options.Mapping,
            });
            await reader.ReadSelectedTablesAsync(ct);
            plans = await CopyPlanner.PlanAsync(source, reader.SelectedTables.Keys, options.Mapping, options.ExcludedColumns, options.SplitThresholdBytes, ct);
        }
        plans = plans.OrderByDescending(p => p.EstimatedBytes).ToList();

        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", ct);
        // Once the task's publication exists, its tables are fixed: one created on the source since then is not streamed
        // (and not on the target); the cutover names it.
        if (options.KnownTablesOnly || options.Incremental && await SlotRecord.IsRecordedAsync(target, options.TaskName, ct))
        {
            var known = await CopyState.KnownAsync(target, options.TaskName, ct);
            plans = plans.Where(p => known.Contains(p.SourceKey)).ToList();
        }
        await CopyState.RegisterAsync(target, options.TaskName, plans, ct);
        var done = await CopyState.DoneAsync(target, options.TaskName, ct);
        var pending = plans.Where(p => !done.Contains(p.SourceKey)).ToList();
        Progress.Begin(plans.Select(p => new TableProgress(p.Source, p.EstimatedBytes, p.EstimatedRows) { Skipped = done.Contains(p.SourceKey) }).ToList());
        var progressByTable = Progress.Tables.ToDictionary(t => t.Table.ToString(), StringComparer.Ordinal);
        foreach (var skipped in Progress.Tables.Where(t => t.Skipped))
        {
            skipped.FinishedAt = DateTime.UtcNow;
        }
        if (done.Count > 0)
        {
            logger.LogInformation("Resuming task {Task}: {Done} tables already copied, {Pending} to copy again", options.TaskName, done.Count, pending.Count);
        }

        NpgsqlLogSequenceNumber? consistentLsn = null;
        if (options.Incremental)
        {
            consistentLsn = await EnsurePublicationAndSlotAsync(options, plans, target, pending.Count > 0, ct);
        }
        if (pending.Count == 0)
        {
            Progress.FinishedAt = DateTime.UtcNow;
            return new FullCopyResult(0, plans.Count, 0, 0, Progress.Seconds, consistentLsn);
        }

        // The first run's tables are copied from the task slot's snapshot; a resumed run's from a fresh one.
        // The task slot's snapshot serves one run only: a run resumed in the same process takes a fresh one.
        var snapshot = _slotSnapshot ?? await FreshSnapshotAsync(options, ct);
        _slotSnapshot = null;
        var toCopy = pending;
        try
        {
            for (var round = 1; ; round++)
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
        }
        finally
        {
            await snapshot.DisposeAsync();
        }
        Progress.FinishedAt = DateTime.UtcNow;
        return new FullCopyResult(pending.Count, plans.Count - pending.Count, Progress.Rows, Progress.Bytes, Progress.Seconds, consistentLsn ?? snapshot.Lsn);
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
        var units = new List<CopyUnit>();
        var remaining = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var totals = new ConcurrentDictionary<string, (long Rows, long Bytes)>(StringComparer.Ordinal);
        var rewritten = new ConcurrentDictionary<string, TableCopyPlan>(StringComparer.Ordinal);
        foreach (var plan in pending)
        {
            if (plan.IsSplit)
            {
                // Ranges load in separate transactions: empty the table once, before any of them.
                await using var truncate = new NpgsqlCommand($"TRUNCATE ONLY {plan.Target}", target);
                await truncate.ExecuteNonQueryAsync(ct);
            }
            remaining[plan.SourceKey] = plan.Ranges.Count;
            units.AddRange(plan.Ranges.Select((r, i) => new CopyUnit(plan, r, i)));
        }
        var queue = new ConcurrentQueue<CopyUnit>(units);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var retry = new RetryWindow(options.RetryWindow, logger);

        async Task WorkerAsync()
        {
            NpgsqlConnection? src = null, tgt = null;
            try
            {
                while (queue.TryDequeue(out var unit))
                {
                    if (rewritten.ContainsKey(unit.Table.SourceKey))
                    {
                        continue;
                    }
                    var table = progressByTable[unit.Table.SourceKey];
                    table.StartedAt ??= DateTime.UtcNow;
                    var result = await retry.RunAsync($"Copying {unit.Table.Source}", options.Source, async c =>
                    {
                        try
                        {
                            src ??= await ConnectionOpener.OpenAsync(options.Source, "pgshift copy", c);
                            tgt ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", c);
                            return await new TableCopier(src, tgt, options.TaskName).CopyAsync(unit, snapshot.Name, snapshot.Lsn, !unit.Table.IsSplit, table, c);
                        }
                        catch
                        {
                            // A failed unit's transactions are rolled back with their connections; a retry starts afresh.
                            if (src is not null) await src.DisposeAsync();
                            if (tgt is not null) await tgt.DisposeAsync();
                            src = tgt = null;
                            throw;
                        }
                    }, failed.Token);
                    if (result is not var (rows, bytes))
                    {
                        rewritten.TryAdd(unit.Table.SourceKey, unit.Table);
                        continue;
                    }
                    var sum = totals.AddOrUpdate(unit.Table.SourceKey, (rows, bytes), (_, t) => (t.Rows + rows, t.Bytes + bytes));
                    if (remaining.AddOrUpdate(unit.Table.SourceKey, 0, (_, n) => n - 1) == 0 && !rewritten.ContainsKey(unit.Table.SourceKey))
                    {
                        if (unit.Table.IsSplit)
                        {
                            tgt ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift copy", failed.Token);
                            await CopyState.MarkDoneAsync(tgt, null, options.TaskName, unit.Table.SourceKey, snapshot.Lsn, sum.Rows, sum.Bytes, failed.Token);
                        }
                        table.FinishedAt = DateTime.UtcNow;
                        TableCopied?.Invoke(unit.Table);
                        logger.LogInformation("Copied {Table}: {Rows} rows, {MB:0.0} MB", unit.Table.Source, sum.Rows, sum.Bytes / 1048576.0);
                    }
                }
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
            finally
            {
                if (src is not null) await src.DisposeAsync();
                if (tgt is not null) await tgt.DisposeAsync();
            }
        }

        using var reporterStop = CancellationTokenSource.CreateLinkedTokenSource(failed.Token);
        var reporter = ReportProgressAsync(options, reporterStop.Token);
        var workers = Enumerable.Range(0, Math.Max(1, Math.Min(options.Jobs, units.Count))).Select(_ => Task.Run(WorkerAsync, CancellationToken.None)).ToList();
        try
        {
            await Task.WhenAll(workers);
        }
        catch when (workers.Any(w => w.IsFaulted))
        {
            // Report the first real failure, not the cancellations it caused in the other workers.
            var first = workers.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException)
                ?? workers.First(w => w.IsFaulted).Exception!.InnerException!;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }
        finally
        {
            await reporterStop.CancelAsync();
            try { await reporter; } catch (OperationCanceledException) { }
        }
        // A split table of which some ranges were copied from this snapshot starts over (emptied) with the next one.
        return [.. rewritten.Values];
    }

    private ExportedSnapshot? _slotSnapshot;

    /// <summary>The task's publication and slot (see <see cref="TaskSlot.EnsureAsync"/>); the new slot's snapshot is kept for the copy when one is needed.</summary>
    private async Task<NpgsqlLogSequenceNumber> EnsurePublicationAndSlotAsync(FullCopyOptions options, List<TableCopyPlan> plans, NpgsqlConnection target,
        bool needSnapshot, CancellationToken ct)
    {
        var (lsn, snapshot) = await TaskSlot.EnsureAsync(options.Source, target, options.TaskName, plans.Select(p => p.SourceOid).ToList(),
            plans.Where(p => !p.Unlogged).Select(p => p.Source).ToList(), needSnapshot, logger, ct);
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
