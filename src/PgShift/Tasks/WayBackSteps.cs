using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Copy;
using PgShift.Progress;
using PgShift.Replication;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Tasks;

/// <summary>
/// A task's way back: the same protocol as the forward task with the servers swapped (DESIGN.md, invariant 10). At the
/// cutover, once the forward stream has applied everything with the old server fenced, the new server gets a publication
/// and a slot whose consistent point separates exactly what the forward stream wrote (before it) from what the
/// application will write (after it); the reverse task's state (its slot's position, its tables with that position as
/// their sync LSN, its settings) goes to the old server, which is the reverse stream's target, so that both directions
/// resume from any machine. The reverse stream and its cutover (the fallback) are then the ordinary ones.
/// </summary>
public sealed class WayBackSteps(ILogger logger)
{
    /// <summary>
    /// Prepares the way back of the finished task <paramref name="forward"/>: drops its own slot on the old server (it would
    /// keep the WAL of every change the reverse stream writes there), creates the reverse publication and slot on the new
    /// server, and records the reverse task on the old one. Safe to run again: what exists is kept.
    /// </summary>
    /// <returns>The reverse slot's consistent point, and whether the slot was created now (not by an earlier run).</returns>
    public async Task<(NpgsqlLogSequenceNumber Lsn, bool Created)> PrepareAsync(TaskSettings forward, CancellationToken ct)
    {
        var task = forward.TaskName;
        HashSet<string> known;
        await using (var newState = await ConnectionOpener.OpenAsync(forward.Target.ThroughFence(), "pgshift cutover", ct))
        {
            var status = await TaskStatusReport.LoadAsync(newState, task, ct);
            if (status?.Phase != TaskPhase.Finished)
            {
                throw new PgShiftException($"Task {task} is not cut over (phase {status?.Phase.Text() ?? "none"}), so there is no way back to prepare yet.",
                    $"Cut it over first: pgshift cutover --reverse --task {task}.");
            }
            known = await CopyState.KnownAsync(newState, task, ct);
        }
        var forwardFile = TaskFile.FromStoredJson(forward.StoredForm ?? "{}");
        List<QualifiedName> tables;
        await using (var oldServer = await ConnectionOpener.OpenAsync(forward.Source.ThroughFence(), "pgshift cutover", ct))
        {
            tables = (await SelectedTables.LoadAsync(oldServer, forward.Selection, ct)).Among(known).Values.ToList();
        }
        var reverseFile = WayBackSettings.ReverseFile(forwardFile, tables);
        var reverse = WayBackSettings.Build(forward.Source, forward.Target, task, reverseFile);

        await using var oldState = await ConnectionOpener.OpenAsync(reverse.Target, "pgshift cutover", ct);
        await StateSchema.EnsureAsync(oldState, null, ct);
        var created = await SlotRecord.ConsistentLsnAsync(oldState, task, ct) is null;
        if (created)
        {
            // The forward task is finished and never streams again; its slot would pin the old server's WAL (and, when both
            // databases share a cluster, has the reverse slot's name).
            foreach (var dropped in await SlotCleanup.CleanupAsync(forward.Source, task, ct, waitForRelease: TimeSpan.FromSeconds(30)))
            {
                logger.LogInformation("Dropped the forward {Object} on the old server", dropped);
            }
        }
        List<TableCopyPlan> plans;
        await using (var newServer = await ConnectionOpener.OpenAsync(reverse.Source, "pgshift cutover", ct))
        {
            var selected = await SelectedTables.LoadAsync(newServer, reverse.Selection, ct);
            plans = await CopyPlanner.PlanAsync(newServer, selected.Tables.Keys, reverse.Mapping, reverse.ExcludedColumns, reverse.SplitThresholdBytes, ct);
        }
        var (lsn, _) = await TaskSlot.EnsureAsync(reverse.Source, oldState, task, plans.Select(p => p.SourceOid).ToList(),
            plans.Where(p => !p.Unlogged).Select(p => p.Source).ToList(), needSnapshot: false, logger, ct);
        // Recorded before they are changed, so that the fallback puts every one back whatever happens in between.
        var blockers = await ApplyBlocker.ReadAsync(oldState, plans.Select(p => p.Target), ct);
        await CutoverRestore.AddAsync(oldState, task, blockers.Select(b => b.Restore).ToList(), ct);
        foreach (var blocker in blockers)
        {
            logger.LogWarning("{Table}: {What} is changed on the old server while the way back runs (the fallback puts it back)", blocker.Table, blocker.What);
            await ExecuteAsync(oldState, blocker.WhileStreaming, ct);
        }
        // Every table is "copied" at the slot's consistent point: the old server holds the rows as they were there.
        await CopyState.RegisterAsync(oldState, task, plans.Select(p => new PlannedTable(p.SourceKey, p.Target.ToString(), 0, 0, p.StreamColumns)), ct);
        var done = await CopyState.DoneAsync(oldState, task, ct);
        foreach (var plan in plans.Where(p => !done.Contains(p.SourceKey)))
        {
            await CopyState.MarkDoneAsync(oldState, null, task, plan.SourceKey, lsn, 0, 0, ct);
        }
        var current = await TaskStatusReport.LoadAsync(oldState, task, ct);
        if (current?.Phase is null or TaskPhase.Copy)
        {
            await TaskState.SetPhaseAsync(oldState, task, reverse.Source.ToString(), TaskPhase.Stream, ct);
        }
        await TaskSettingsStore.SaveIfNewAsync(oldState, task, reverse.StoredForm!, ct);
        logger.LogInformation("The way back of task {Task} starts at {Lsn} of the new server ({Tables} tables)", task, lsn, plans.Count);
        return (lsn, created);
    }

    /// <summary>At the fallback, with the reverse stream caught up: what <see cref="PrepareAsync"/> changed on the old server, put back.</summary>
    public static async Task<int> RestoreAsync(TaskSettings reverse, CancellationToken ct)
    {
        await using var oldServer = await ConnectionOpener.OpenAsync(reverse.Target, "pgshift fallback", ct);
        var statements = await CutoverRestore.LoadAsync(oldServer, reverse.TaskName, ct);
        foreach (var sql in statements)
        {
            await ExecuteAsync(oldServer, sql, ct);
        }
        return statements.Length;
    }

    private static async Task ExecuteAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The tables the way back carries (leaf tables of the new server) that it cannot stream: unlogged ones write no WAL.</summary>
    public static async Task<List<string>> UnloggedTablesAsync(TaskSettings reverse, CancellationToken ct)
    {
        await using var newServer = await ConnectionOpener.OpenAsync(reverse.Source, "pgshift fallback", ct);
        var selected = await SelectedTables.LoadAsync(newServer, reverse.Selection, ct);
        var plans = await CopyPlanner.PlanAsync(newServer, selected.Tables.Keys, reverse.Mapping, reverse.ExcludedColumns, 0, ct);
        return plans.Where(p => p.Unlogged).Select(p => p.Source.ToString()).ToList();
    }

    /// <summary>
    /// The fallback's sequences: each sequence of the way back's tables (serial and identity) and of their schemas set on the old
    /// server from the new one's last_value, through the inverted renaming.
    /// </summary>
    public static async Task<List<string>> SyncSequencesAsync(TaskSettings reverse, CancellationToken ct)
    {
        var warnings = new List<string>();
        await using var newServer = await ConnectionOpener.OpenAsync(reverse.Source, "pgshift fallback", ct);
        await using var oldServer = await ConnectionOpener.OpenAsync(reverse.Target, "pgshift fallback", ct);
        var tables = (await SelectedTables.LoadAsync(newServer, reverse.Selection, ct)).Tables;
        var schemas = tables.Values.Select(t => t.Schema).ToHashSet(StringComparer.Ordinal);
        var standalone = (await SequenceOwner.ReadAsync(newServer, ct)).Where(s => s.OwnerOid is null && schemas.Contains(s.Sequence.Schema))
            .Select(s => s.Sequence).ToHashSet();
        await SequenceSync.SyncAsync(newServer, oldServer, tables, standalone, reverse.Mapping, warnings, ct);
        return warnings;
    }
}
