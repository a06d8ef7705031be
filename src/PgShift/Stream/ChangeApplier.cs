using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Stream;


/// <summary>
/// A set statement disagreed with what the folded changes expected (a row missing, a key taken): the applier
/// rolls back and the stream replays the same source transactions change by change, in order, which applies
/// them or names the exact change that conflicts.
/// </summary>
public sealed class ReplayInOrderException(NpgsqlLogSequenceNumber through, string reason, Exception? inner = null)
    : Exception($"Folded changes disagree with the target ({reason}); replaying them one by one", inner)
{
    /// <summary>Source transactions whose commit is at or before this position are applied change by change.</summary>
    public NpgsqlLogSequenceNumber Through { get; } = through;
}

/// <summary>
/// Applies the change stream to the target in commit order, many source transactions in one target transaction,
/// whose last statement records the end LSN of the last source transaction in it, so progress commits with the
/// data (exactly once across crashes). Changes of tables with a key are folded row by row into set statements
/// (<see cref="NetChanges"/>); the others, and transactions up to <paramref name="inOrderThrough"/>, go as one
/// statement per change, in order, in batches. The statements are <see cref="ChangeStatements"/>'; the round trips,
/// the target transaction and the checks of conflicts are <see cref="ApplyPipeline"/>'s; this class groups.
/// </summary>
public sealed class ChangeApplier(NpgsqlConnection target, string task, IReadOnlyDictionary<QualifiedName, StreamTable> tables,
    NpgsqlLogSequenceNumber committedLsn, ApplyOptions options, ConflictPolicy conflicts, ILogger logger, NpgsqlLogSequenceNumber inOrderThrough = default,
    Throttle? throttle = null)
{
    /// <summary>Changes a second applied: waited for as each change is taken in.</summary>
    private readonly Throttle _throttle = throttle ?? Throttle.Unlimited;

    private sealed record Relation(RelationEvent Message, ChangeStatements Statements, NetChanges? Net)
    {
        public StreamTable Table => Statements.Table;
    }

    private readonly ApplyPipeline _pipeline = new(target, conflicts, logger);
    private readonly StatementCache _setStatements = new();
    private readonly Dictionary<uint, Relation> _relations = new();
    private readonly Dictionary<uint, string> _ignoredRelations = new();

    // The source transaction being received.
    private BeginEvent? _begin;
    private bool _skipTransaction;
    private int _transactionChanges;
    private NpgsqlLogSequenceNumber _lastFinalLsn;

    // The group: source transactions applied in the open target transaction, committed together.
    private NpgsqlLogSequenceNumber _groupEndLsn;
    private int _groupChanges;
    private DateTime? _groupStartedAt;
    private DateTime? _oldestUnappliedAt;

    // What waits for the next round trip: rows folded, and the characters of values held.
    private int _folded;
    private long _heldChars;

    /// <summary>The end LSN of the last source transaction whose changes are committed on the target.</summary>
    public NpgsqlLogSequenceNumber CommittedLsn { get; private set; } = committedLsn;

    /// <summary>A source transaction is being received, or applied changes wait for their group's commit.</summary>
    public bool HasPending => _begin is not null || _groupEndLsn > CommittedLsn;

    /// <summary>When the oldest change received and not yet committed on the target arrived.</summary>
    public DateTime? OldestUnappliedAt => _oldestUnappliedAt;

    public long ChangesApplied { get; private set; }
    public long TransactionsApplied { get; private set; }

    /// <summary>Changes skipped because they conflicted with the target, under <see cref="ConflictPolicy.Ignore"/>.</summary>
    public long ConflictsSkipped => _pipeline.ConflictsSkipped;

    public async Task ApplyAsync(StreamEvent e, CancellationToken ct)
    {
        _oldestUnappliedAt ??= e.ReceivedAt;
        switch (e)
        {
            case BeginEvent b:
                _begin = b;
                _lastFinalLsn = b.FinalLsn;
                _transactionChanges = 0;
                // Already applied before a restart: its commit lies before what the target holds.
                _skipTransaction = b.FinalLsn < CommittedLsn;
                break;
            case RelationEvent r:
                await OnRelationAsync(r, ct);
                break;
            case RowEvent row:
                await OnRowAsync(row, ct);
                break;
            case TruncateEvent t:
                await OnTruncateAsync(t, ct);
                break;
            case CommitEvent c:
                // The batch goes on across source transactions: it is sent when full, and before the group commits.
                if (!_skipTransaction && c.EndLsn > CommittedLsn)
                {
                    _groupEndLsn = c.EndLsn;
                    TransactionsApplied++;
                }
                _begin = null;
                _groupStartedAt ??= DateTime.UtcNow;
                if (_groupChanges >= options.GroupChanges || DateTime.UtcNow - _groupStartedAt >= options.GroupDelay)
                {
                    await CommitGroupAsync(ct);
                }
                break;
        }
    }

    /// <summary>Commits the group if it holds whole source transactions only (call when the stream is idle).</summary>
    public async Task CommitGroupAsync(CancellationToken ct)
    {
        if (_begin is not null || _groupEndLsn <= CommittedLsn)
        {
            if (_begin is null && !_pipeline.InTransaction)
            {
                _oldestUnappliedAt = null;
            }
            return;
        }
        // The group's last changes, its checkpoint and its COMMIT in one round trip.
        await SendAsync(ct, wait: true, StreamCheckpoint.Command(task, _groupEndLsn));
        CommittedLsn = _groupEndLsn;
        _groupChanges = 0;
        _groupStartedAt = null;
        _oldestUnappliedAt = null;
    }

    /// <summary>Rolls back what is not committed (the stream restarts from <see cref="CommittedLsn"/>).</summary>
    public Task AbandonAsync() => _pipeline.AbandonAsync();

    private async Task OnRelationAsync(RelationEvent r, CancellationToken ct)
    {
        var name = new QualifiedName(r.Schema, r.Name);
        if (!tables.TryGetValue(name, out var table))
        {
            _ignoredRelations[r.RelationId] = name.ToString();
            logger.LogWarning("Changes of {Table} are not part of task {Task} and are ignored", name, task);
            return;
        }
        // The stream carries no DDL: a table whose columns changed on the source cannot be followed safely.
        var expected = table.Columns.Select(c => (c.Name, c.TypeOid)).ToList();
        var actual = r.Columns.Select(c => (c.Name, c.TypeOid)).ToList();
        if (!expected.SequenceEqual(actual))
        {
            // Keep what came before the change: commit the whole transactions applied so far.
            if (_transactionChanges == 0)
            {
                var begin = _begin;
                _begin = null;
                await CommitGroupAsync(ct);
                _begin = begin;
            }
            var added = actual.Except(expected).Select(c => c.Name).ToList();
            var removed = expected.Except(actual).Select(c => c.Name).ToList();
            throw new PgShiftException(
                $"The columns of {name} changed on the source (DDL is not replicated): " +
                $"{(added.Count > 0 ? "added or changed " + string.Join(", ", added) : "")}{(added.Count > 0 && removed.Count > 0 ? "; " : "")}{(removed.Count > 0 ? "dropped or changed " + string.Join(", ", removed) : "")}.",
                $"The task cannot follow {name} any more. Start it again with the new definition: pgshift cleanup --purge, drop the migrated tables on the target, then pgshift migrate; or leave the table out of a new task (--exclude-table) and migrate it on its own.");
        }
        if (_relations.TryGetValue(r.RelationId, out var previous) && previous.Net is { Count: > 0 })
        {
            // The key may have changed with the message: what was folded under the old one goes first.
            Drain(previous.Net);
        }
        _relations[r.RelationId] = new Relation(r, ChangeStatements.For(table, r, conflicts), FoldingFor(r, table));
    }

    /// <summary>Folding for a table: by its key; for REPLICA IDENTITY FULL, runs of inserts only; none where something fires.</summary>
    private NetChanges? FoldingFor(RelationEvent r, StreamTable table)
    {
        // A table without a column on the target has nothing to unnest: its inserts go one by one (DEFAULT VALUES).
        if (options.FoldRows <= 0 || !table.Foldable || r.Columns.Count != table.Columns.Count || table.TargetColumns.All(c => c is null))
        {
            return null;
        }
        var key = Enumerable.Range(0, r.Columns.Count).Where(i => r.Columns[i].IsKey).ToList();
        if (r.ReplicaIdentity == 'f' || key.Count == 0)
        {
            return new NetChanges(table, []);
        }
        // Rows are matched by equality on the key's target columns.
        return key.All(i => table.TargetColumns[i] is not null && table.Columns[i].HasEquality) ? new NetChanges(table, key) : null;
    }

    /// <summary>Turns a table's folded changes into set statements at the end of the batch.</summary>
    private void Drain(NetChanges net)
    {
        foreach (var (cmd, rows, kind) in net.Drain(conflicts, _setStatements))
        {
            _pipeline.Add(cmd, new PendingChange(kind.ToString().ToUpperInvariant(), net.Table.Target, new Lazy<string>(() => "(several)"), kind, _lastFinalLsn, rows));
        }
    }

    private async Task OnRowAsync(RowEvent row, CancellationToken ct)
    {
        if (_skipTransaction || _ignoredRelations.ContainsKey(row.RelationId))
        {
            return;
        }
        var relation = _relations[row.RelationId];
        if (_begin is not null && _begin.FinalLsn < relation.Table.SyncLsn)
        {
            // The table was copied after this transaction committed: the copy holds it already.
            return;
        }
        var identity = ChangeStatements.IdentityOf(row);
        if (relation.Statements.ShapeOf(row.Kind, row.New, identity) is not { } shape)
        {
            return;
        }
        if (relation.Net is { } net && _lastFinalLsn > inOrderThrough)
        {
            if (net.TryAdd(row.Kind, row.Old, row.New))
            {
                Count(row);
                await _throttle.WaitAsync(1, ct);
                if (++_folded >= options.FoldRows || _heldChars >= options.BatchChars)
                {
                    await SendAsync(ct);
                }
                return;
            }
            // This change must follow what is folded for its table: that goes first.
            Drain(net);
        }
        var statements = relation.Statements;
        var values = identity ?? row.New!;
        _pipeline.Add(statements.Single(shape, row.New, identity),
            new PendingChange(row.Kind.ToString().ToUpperInvariant(), relation.Table.Target, new Lazy<string>(() => statements.KeyText(values)), row.Kind, _begin?.FinalLsn));
        Count(row);
        await _throttle.WaitAsync(1, ct);
        if (_pipeline.Held >= options.BatchStatements || _heldChars >= options.BatchChars)
        {
            await SendAsync(ct);
        }
    }

    private void Count(RowEvent row)
    {
        _groupChanges++;
        _transactionChanges++;
        ChangesApplied++;
        foreach (var values in (ReadOnlySpan<ColumnValue[]?>)[row.Old, row.New])
        {
            foreach (var v in values ?? [])
            {
                _heldChars += v.Text?.Length ?? 0;
            }
        }
    }

    private async Task OnTruncateAsync(TruncateEvent t, CancellationToken ct)
    {
        if (_skipTransaction)
        {
            return;
        }
        await SendAsync(ct, wait: true);
        var targets = t.RelationIds.Where(_relations.ContainsKey).Select(id => _relations[id].Table)
            .Where(table => _begin is null || _begin.FinalLsn >= table.SyncLsn).Select(table => table.Target).ToList();
        if (targets.Count == 0)
        {
            return;
        }
        await _pipeline.TruncateAsync(targets, t.RestartIdentity, ct);
        _groupChanges++;
        ChangesApplied++;
        await _throttle.WaitAsync(1, ct);
    }

    /// <summary>Sends what is held, the folded changes turned into set statements first (see <see cref="ApplyPipeline.SendAsync"/>).</summary>
    private async Task SendAsync(CancellationToken ct, bool wait = false, NpgsqlBatchCommand? checkpoint = null)
    {
        if (_folded > 0)
        {
            foreach (var relation in _relations.Values)
            {
                if (relation.Net is { Count: > 0 } net)
                {
                    Drain(net);
                }
            }
            _folded = 0;
        }
        _heldChars = 0;
        await _pipeline.SendAsync(_lastFinalLsn, ct, wait, checkpoint);
    }
}
