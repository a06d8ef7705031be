using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Replication;
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
    Throttle? throttle = null, ISchemaChangeFollower? schemaChanges = null, IReadOnlySet<long>? skipSchemaChanges = null)
{
    /// <summary>How changes are batched and grouped: the staged replay, where only the end state counts, groups more.</summary>
    public ApplyOptions Options { get; set; } = options;

    /// <summary>
    /// The statement that records the progress of a target transaction, sent last in it, given the end LSN of its last
    /// source transaction and the changes it applied: by default the task's applied LSN (invariant 4); during the copy,
    /// the sync LSN of the tables applied to (<see cref="ReadyTableApplier"/>).
    /// </summary>
    public Func<NpgsqlLogSequenceNumber, long, NpgsqlBatchCommand>? Progress { get; init; }

    /// <summary>
    /// Applying staged changes during the copy to the tables given, which are some of the task's (<see cref="ReadyTableApplier"/>):
    /// the other tables' changes are passed over quietly (the stream applies them later), and whatever would make the
    /// stream do more than apply rows to these tables (a captured schema change, a relation that changes its name)
    /// throws <see cref="DuringCopyApplyHaltedException"/>, leaving the rest to the stream.
    /// </summary>
    public bool DuringCopy { get; init; }

    /// <summary>The task's tables, by source name: schema changes rename, reshape, add and drop them while the stream runs.</summary>
    private readonly Dictionary<QualifiedName, StreamTable> _tables = new(tables);

    /// <summary>The relation id of the task's capture table (<see cref="SchemaCapture"/>), once its Relation message came.</summary>
    private uint? _captureRelation;
    private IReadOnlyList<RelationColumn> _captureColumns = [];
    /// <summary>The source transaction being received changed the schema: its group commits with it, alone after it.</summary>
    private bool _schemaChanged;
    /// <summary>
    /// Tables to copy into the task (by source oid, with their shape as the target has them, if they are task tables already):
    /// copied when the stream is idle, so that the copy's snapshot is close to what the target's schema has reached.
    /// </summary>
    private readonly Dictionary<uint, CapturedTable?> _bringIn = new();
    /// <summary>The shape of each table as the last schema change applied left it (what the target has).</summary>
    private readonly Dictionary<uint, CapturedTable> _appliedShapes = new();
    private DateTime _nextBringIn;

    /// <summary>The tables applied to now, by source name, with their sync LSN (a copy: schema changes change them).</summary>
    public Dictionary<QualifiedName, NpgsqlLogSequenceNumber> SyncLsns() => _tables.ToDictionary(kv => kv.Key, kv => kv.Value.SyncLsn);

    /// <summary>Tables wait for their copy into the task: the cutover waits for them.</summary>
    public bool TablesWaiting => _bringIn.Count > 0;

    /// <summary>Tables that joined the task before a restart and are not copied yet.</summary>
    public void QueueBringIns(IEnumerable<uint> oids)
    {
        foreach (var oid in oids)
        {
            _bringIn.TryAdd(oid, null);
        }
    }

    /// <summary>Changes a second applied: waited for as each change is taken in.</summary>
    private readonly Throttle _throttle = throttle ?? Throttle.Unlimited;

    private sealed record Relation(RelationEvent Message, ChangeStatements Statements, NetChanges? Net)
    {
        public StreamTable Table => Statements.Table;
    }

    private readonly ApplyPipeline _pipeline = new(target, conflicts, logger);
    private StatementCache _setStatements = new();
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

    /// <summary>Of <see cref="ChangesApplied"/>, those committed on the target.</summary>
    public long ChangesCommitted { get; private set; }
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
                if (_schemaChanged || _groupChanges >= Options.GroupChanges || DateTime.UtcNow - _groupStartedAt >= Options.GroupDelay)
                {
                    // A schema change commits with its transaction: an enum's new label, say, is usable only once committed.
                    await CommitGroupAsync(ct);
                }
                _schemaChanged = false;
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
        await SendAsync(ct, wait: true, Progress?.Invoke(_groupEndLsn, _groupChanges) ?? StreamCheckpoint.Command(task, _groupEndLsn));
        CommittedLsn = _groupEndLsn;
        ChangesCommitted = ChangesApplied;
        _groupChanges = 0;
        _groupStartedAt = null;
        _oldestUnappliedAt = null;
    }

    /// <summary>Rolls back what is not committed (the stream restarts from <see cref="CommittedLsn"/>).</summary>
    public Task AbandonAsync() => _pipeline.AbandonAsync();

    private async Task OnRelationAsync(RelationEvent r, CancellationToken ct)
    {
        var name = new QualifiedName(r.Schema, r.Name);
        if (name == SchemaCapture.ChangeTableName(task))
        {
            _captureRelation = r.RelationId;
            _captureColumns = r.Columns;
            return;
        }
        if (DuringCopy && (_relations.TryGetValue(r.RelationId, out var known) && known.Table.Source != name
                           || _ignoredRelations.ContainsKey(r.RelationId) && _tables.ContainsKey(name)))
        {
            throw new DuringCopyApplyHaltedException($"the relation with oid {r.RelationId} is now named {name}");
        }
        if (!_tables.TryGetValue(name, out var table))
        {
            _ignoredRelations[r.RelationId] = name.ToString();
            if (DuringCopy)
            {
                return;
            }
            logger.LogWarning("Changes of {Table} are not part of task {Task} and are ignored", name, task);
            return;
        }
        // Without capture (or for a change the capture did not see), a table whose columns changed on the source cannot be followed safely.
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
                $"The columns of {name} changed on the source{(schemaChanges is null ? " and schema changes are not captured for this task" : " without a captured schema change")}: " +
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
        if (Options.FoldRows <= 0 || !table.Foldable || r.Columns.Count != table.Columns.Count || table.TargetColumns.All(c => c is null))
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
        if (row.RelationId == _captureRelation)
        {
            if (DuringCopy)
            {
                throw new DuringCopyApplyHaltedException("a schema change was captured");
            }
            if (row.Kind == RowChangeKind.Insert && row.New is { } captured)
            {
                var named = new Dictionary<string, string?>(StringComparer.Ordinal);
                for (var i = 0; i < captured.Length && i < _captureColumns.Count; i++)
                {
                    named[_captureColumns[i].Name] = captured[i].Text;
                }
                await OnSchemaChangeAsync(CapturedSchemaChange.Parse(named), ct);
            }
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
                if (++_folded >= Options.FoldRows || _heldChars >= Options.BatchChars)
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
        if (_pipeline.Held >= Options.BatchStatements || _heldChars >= Options.BatchChars)
        {
            await SendAsync(ct);
        }
    }

    /// <summary>
    /// A captured schema change at its place in the stream: its statements run in the group's transaction (which commits
    /// right after its source transaction), with the task state's record of the tables it renames, reshapes or drops;
    /// tables that join the task are copied once that transaction is committed.
    /// </summary>
    private async Task OnSchemaChangeAsync(CapturedSchemaChange change, CancellationToken ct)
    {
        if (schemaChanges is null)
        {
            return;
        }
        if (skipSchemaChanges?.Contains(change.Id) == true)
        {
            logger.LogWarning("Schema change {Id} is skipped as asked (--skip-schema-change): {Statement}", change.Id, change.StatementText);
            return;
        }
        var plan = schemaChanges.Plan(change, IsTaskTable, name => !_tables.TryGetValue(name, out var t) || _begin is null || _begin.FinalLsn >= t.SyncLsn);
        foreach (var note in plan.Notes)
        {
            logger.LogWarning("Schema change {Id}: {Note}", change.Id, note);
        }
        if (plan.IsEmpty)
        {
            return;
        }
        logger.LogInformation("Applying schema change {Id} of task {Task}: {Statement}", change.Id, task, change.StatementText);
        await SendAsync(ct, wait: true);
        foreach (var sql in plan.Statements)
        {
            try
            {
                await _pipeline.ExecuteAsync(sql, ct);
            }
            catch (PostgresException pe)
            {
                throw new PgShiftException(
                    $"Schema change {change.Id} of the source ({change.StatementText}) failed on the target: {pe.MessageText} (statement: {sql.ReplaceLineEndings(" ")}). Nothing of its transaction was applied.",
                    $"Make the target able to take it (or make the change there by hand), then run 'pgshift migrate' again; or skip it after making it by hand: pgshift migrate --skip-schema-change {change.Id}.", pe);
            }
        }
        await _pipeline.BeginAsync(ct);
        foreach (var name in plan.Dropped)
        {
            if (_tables.Remove(name, out var gone))
            {
                ForgetRelationsOf(gone);
                await SchemaChangeState.DropAsync(target, task, name.ToString(), ct);
            }
        }
        foreach (var (before, after) in plan.Reshaped)
        {
            if (_tables.Remove(before, out var old))
            {
                var reshaped = await schemaChanges.ReshapeAsync(old, after, target, ct);
                _tables[reshaped.Source] = reshaped;
                ForgetRelationsOf(old);
                await SchemaChangeState.ReshapeAsync(target, task, before.ToString(), reshaped.Source.ToString(), reshaped.Target.ToString(), reshaped.StreamColumnsText, ct);
            }
        }
        foreach (var t in change.Tables)
        {
            if (t.After is { } after)
            {
                _appliedShapes[after.Oid] = after;
            }
            else if (t.Before is { } gone)
            {
                _appliedShapes.Remove(gone.Oid);
            }
        }
        foreach (var oid in plan.NewTables.Concat(plan.Recopy).Distinct())
        {
            await SchemaChangeState.AddPendingAsync(target, task, oid, change.Id, ct);
            _bringIn[oid] = plan.Recopy.Contains(oid) ? _appliedShapes.GetValueOrDefault(oid) : null;
        }
        // Set statements are cached by table name and shape: a table's new columns (or a new table under an old name) need new ones.
        _setStatements = new StatementCache();
        _schemaChanged = true;
    }

    /// <summary>A table the stream applies to (a partitioned one, which holds no rows, is the selection's to say: see SchemaChangeStatements).</summary>
    private bool IsTaskTable(QualifiedName name) => _tables.ContainsKey(name);

    /// <summary>Relations of a table whose shape changed: the source sends a new Relation message before its next change.</summary>
    private void ForgetRelationsOf(StreamTable table)
    {
        foreach (var (id, relation) in _relations.Where(kv => kv.Value.Table == table).ToList())
        {
            if (relation.Net is { Count: > 0 } net)
            {
                Drain(net);
            }
            _relations.Remove(id);
        }
    }

    /// <summary>
    /// Copies the tables that joined the task, when nothing is applied but not committed (no lock of the apply session in
    /// the way) and the stream is idle. A copy that the target's schema cannot take yet (a label or type that the stream
    /// has not reached) is tried again a moment later, once the stream has gone on.
    /// </summary>
    public async Task BringInWhenIdleAsync(CancellationToken ct)
    {
        if (_bringIn.Count == 0 || _begin is not null || _pipeline.InTransaction || DateTime.UtcNow < _nextBringIn || schemaChanges is null)
        {
            return;
        }
        foreach (var (oid, current) in _bringIn.ToList())
        {
            IReadOnlyList<StreamTable> joined;
            try
            {
                joined = await schemaChanges.BringInAsync(oid, current, ct);
            }
            catch (PostgresException pe) when (!Connections.Transience.IsTransient(pe))
            {
                logger.LogWarning("Copying the table with oid {Oid} into task {Task} waits for the stream: {Error}", oid, task, pe.MessageText);
                _nextBringIn = DateTime.UtcNow.AddSeconds(2);
                return;
            }
            _bringIn.Remove(oid);
            foreach (var table in joined)
            {
                if (_tables.Remove(table.Source, out var old))
                {
                    ForgetRelationsOf(old);
                }
                _tables[table.Source] = table;
                foreach (var ignored in _ignoredRelations.Where(kv => kv.Value == table.Source.ToString()).Select(kv => kv.Key).ToList())
                {
                    _ignoredRelations.Remove(ignored);
                }
            }
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
