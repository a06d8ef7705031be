using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Stream;

/// <summary>
/// Applying during the copy stopped short, for a reason that the stream handles itself (a captured schema change, a
/// relation renamed): the target transaction is rolled back, and the stream applies the rest after the copy.
/// </summary>
public sealed class DuringCopyApplyHaltedException(string reason) : Exception($"Applying during the copy stops here: {reason}; the stream applies the rest after the copy");

/// <summary>
/// Applies the staged changes (<see cref="ChangeStager"/>) of the tables whose copy, keys and indexes are done while other
/// tables still copy, so that what is left to apply when the copy ends is mostly the last tables' changes.
/// <para>
/// It runs the stream's own <see cref="ChangeApplier"/> over the staged rows, in order, limited to those tables
/// (<see cref="ChangeApplier.DuringCopy"/>), and each of its target transactions ends by raising those tables' sync LSN
/// to the end LSN of the last source transaction it applied, instead of the task's applied LSN. Invariant 2 then makes
/// the stream's replay of the same staged rows skip exactly what was applied here: a crash loses at most the target
/// transaction in progress, whose changes the sync LSN does not cover. The task's applied LSN is untouched.
/// </para>
/// <para>
/// It works in rounds, a couple of seconds apart, each up to the stage mark of its start (so always whole transactions).
/// A table that becomes ready joins at the next rebuild: the applier starts again from the first staged row with the
/// larger set (the tables already applied to skip what they hold); rebuilds are spaced so that reading the staged rows
/// again costs at most about a fifth of the time. Like staging, it is an optimisation: on any failure it stops with a
/// note in the log, and the stream applies what is left.
/// </para>
/// </summary>
public sealed class ReadyTableApplier : IAsyncDisposable
{
    private readonly StreamOptions options;
    private readonly Throttle throttle;
    private readonly ILogger logger;
    private readonly BackgroundRun _run;

    public ReadyTableApplier(StreamOptions options, Throttle throttle, ILogger logger)
    {
        this.options = options;
        this.throttle = throttle;
        this.logger = logger;
        _run = new BackgroundRun(RunAsync);
    }

    private static readonly TimeSpan RoundEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RebuildAtLeastEvery = TimeSpan.FromSeconds(10);
    /// <summary>A target transaction closes within a second: what a stop at the copy's end rolls back is little.</summary>
    private static readonly TimeSpan GroupDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly HashSet<QualifiedName> _ready = new();
    /// <summary>Row changes applied to the target (and committed) by this process during the copy.</summary>
    public long Applied => Interlocked.Read(ref _applied) + (_applier?.ChangesCommitted ?? 0);
    /// <summary>Committed by the appliers replaced.</summary>
    private long _applied;
    private volatile ChangeApplier? _applier;

    /// <summary>A table's copy, keys and indexes are committed: its staged changes may apply.</summary>
    public void TableReady(QualifiedName sourceTable)
    {
        lock (_lock)
        {
            _ready.Add(sourceTable);
        }
    }

    /// <summary>Starts applying in the background (once).</summary>
    public void Start() => _run.Start();

    /// <summary>Stops: the target transaction in progress is rolled back (its changes stay staged for the stream).</summary>
    public Task StopAsync() => _run.StopAsync();

    public ValueTask DisposeAsync() => _run.DisposeAsync();

    private async Task RunAsync(CancellationToken stop)
    {
        NpgsqlConnection? target = null;
        try
        {
            await using var state = await ConnectionOpener.OpenAsync(options.Target, "pgshift staged", stop);
            HashSet<QualifiedName> members = [];
            ChangeApplier? applier = null;
            long position = 0;
            var nextRebuild = DateTime.MinValue;
            while (true)
            {
                await Task.Delay(RoundEvery, stop);
                HashSet<QualifiedName> ready;
                lock (_lock)
                {
                    ready = [.. _ready];
                }
                DateTime? rebuildStarted = null;
                if (!ready.IsSubsetOf(members) && DateTime.UtcNow >= nextRebuild)
                {
                    rebuildStarted = DateTime.UtcNow;
                    if (target is not null)
                    {
                        await target.DisposeAsync();
                    }
                    target = await StreamRunner.OpenApplyConnectionAsync(options.Target, stop);
                    Interlocked.Add(ref _applied, applier?.ChangesCommitted ?? 0);
                    (applier, members) = await BuildAsync(state, target, ready, stop);
                    _applier = applier;
                    position = 0;
                }
                if (applier is not null)
                {
                    position = await RoundAsync(state, applier, position, stop);
                }
                if (rebuildStarted is { } started)
                {
                    // Reading the staged rows again from the first costs more as they grow: spaced accordingly.
                    nextRebuild = DateTime.UtcNow + TimeSpan.FromTicks(Math.Max(RebuildAtLeastEvery.Ticks, (DateTime.UtcNow - started).Ticks * 4));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The copy is over: what is not committed stays staged for the stream.
        }
        catch (DuringCopyApplyHaltedException halted)
        {
            logger.LogInformation("{Reason}", halted.Message);
        }
        catch (Exception ex)
        {
            logger.LogWarning("Applying staged changes during the copy stopped: {Error} The stream applies them after the copy.",
                Redactor.Redact(ConnectionFailure.FindPostgresException(ex)?.MessageText ?? ex.Message));
        }
        finally
        {
            if (target is not null)
            {
                // Disposing rolls back a target transaction left open by a cancelled round.
                await target.DisposeAsync();
            }
        }
    }

    /// <summary>Applies the staged rows after <paramref name="after"/> up to the stage mark now, and commits them with the tables' sync LSN.</summary>
    /// <returns>The last staged row gone through.</returns>
    private async Task<long> RoundAsync(NpgsqlConnection state, ChangeApplier applier, long after, CancellationToken ct)
    {
        var through = await StagedChanges.MarkAsync(state, options.TaskName, ct);
        if (through <= after)
        {
            return after;
        }
        await StagedReplay.FeedAsync(state, applier, options.TaskName, after, through, tick: null, ct);
        await applier.CommitGroupAsync(ct);
        return through;
    }

    /// <summary>An applier for the ready tables that the task's copy state and the source agree on (a table renamed meanwhile waits for the stream).</summary>
    /// <returns>The applier (null when none of them qualifies), and the tables considered.</returns>
    private async Task<(ChangeApplier?, HashSet<QualifiedName>)> BuildAsync(NpgsqlConnection state, NpgsqlConnection target, HashSet<QualifiedName> ready, CancellationToken ct)
    {
        Dictionary<QualifiedName, StreamTable> loaded;
        await using (var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift staged", ct))
        {
            loaded = await StreamTable.LoadAsync(source, target, options.TaskName, options.Mapping, options.ExcludedColumns, ct);
        }
        var copied = (await CopiedTable.LoadAsync(state, options.TaskName, ct)).Select(t => t.SourceTable).ToHashSet(StringComparer.Ordinal);
        var tables = loaded.Where(kv => ready.Contains(kv.Key) && !kv.Value.DroppedOnSource && copied.Contains(kv.Key.ToString()))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        if (tables.Count == 0)
        {
            return (null, ready);
        }
        var names = tables.Keys.Select(k => k.ToString()).ToList();
        var start = await StreamCheckpoint.StartAsync(state, options.TaskName, ct) ?? default;
        var applier = new ChangeApplier(target, options.TaskName, tables, start, options.Apply with { GroupDelay = GroupDelay }, options.Conflicts, logger, throttle: throttle)
        {
            DuringCopy = true,
            Progress = (lsn, changes) => CopyState.RaiseSyncCommand(options.TaskName, names, lsn, changes),
        };
        logger.LogInformation("Applying the staged changes of {Count} tables copied and indexed while the others copy", tables.Count);
        return (applier, ready);
    }
}
