using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Stream;

public sealed class ApplyOptions
{
    /// <summary>Statements sent in one round trip (they may span several source transactions).</summary>
    public int BatchStatements { get; init; } = 1000;
    /// <summary>Source transactions are grouped into one target transaction until it holds this many changes...</summary>
    public int GroupChanges { get; init; } = 20_000;
    /// <summary>... or has been open this long, so the delay stays low under light load.</summary>
    public TimeSpan GroupDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>Rows whose changes are folded into set statements before they are sent (0: every change is a statement).</summary>
    public int FoldRows { get; init; } = 10_000;
    /// <summary>Values held for the next round trip (folded or in statements), in characters: bounds memory when values are large.</summary>
    public long BatchChars { get; init; } = 16 * 1024 * 1024;
    /// <summary>
    /// Have the source stream large transactions while they run (PostgreSQL 14+) into a spool file each, applied at
    /// their commit: the server's decoding keeps pace with the transaction instead of starting at its commit.
    /// </summary>
    public bool SpoolLargeTransactions { get; init; } = true;
    /// <summary>Where spool files go (default: the system's temporary directory).</summary>
    public string? SpoolDirectory { get; init; }
    /// <summary>A streamed transaction larger than this on disk makes the stream restart without streaming.</summary>
    public long SpoolLimitBytes { get; init; } = 4L << 30;
    /// <summary>The source's logical_decoding_work_mem for the task's walsender (null: the server's), e.g. "64kB".</summary>
    public string? DecodingWorkMem { get; init; }
    /// <summary>Fault injection for tests: the stream behaves as if the source never sent a subtransaction's abort.</summary>
    internal bool LoseSubtransactionAborts { get; init; }
}

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
/// statement per change, in order, in batches.
/// </summary>
public sealed class ChangeApplier(NpgsqlConnection target, string task, IReadOnlyDictionary<QualifiedName, StreamTable> tables,
    NpgsqlLogSequenceNumber committedLsn, ApplyOptions options, ConflictPolicy conflicts, ILogger logger, NpgsqlLogSequenceNumber inOrderThrough = default)
{
    private sealed record Relation(RelationEvent Message, StreamTable Table, NetChanges? Net);
    /// <param name="Rows">For a set statement, the rows it must affect; null for a single change.</param>
    private sealed record Pending(string What, QualifiedName Table, Lazy<string> Key, RowChangeKind Kind, NpgsqlLogSequenceNumber? CommitLsn, int? Rows = null);

    private readonly StatementCache _setStatements = new();
    private int _folded;
    private long _heldChars;

    private readonly Dictionary<uint, Relation> _relations = new();
    private readonly Dictionary<uint, string> _ignoredRelations = new();
    /// <summary>A target transaction is open: BEGIN went out with the group's first batch, its COMMIT goes with the last.</summary>
    private bool _inTransaction;
    private NpgsqlBatch _batch = new();
    private readonly Dictionary<NpgsqlBatchCommand, Pending> _pending = new();
    private BeginEvent? _begin;
    private bool _skipTransaction;
    private NpgsqlLogSequenceNumber _groupEndLsn;
    private int _groupChanges;
    private DateTime? _groupStartedAt;
    private DateTime? _oldestUnappliedAt;

    /// <summary>The end LSN of the last source transaction whose changes are committed on the target.</summary>
    public NpgsqlLogSequenceNumber CommittedLsn { get; private set; } = committedLsn;

    /// <summary>A source transaction is being received, or applied changes wait for their group's commit.</summary>
    public bool HasPending => _begin is not null || _groupEndLsn > CommittedLsn;

    /// <summary>When the oldest change received and not yet committed on the target arrived.</summary>
    public DateTime? OldestUnappliedAt => _oldestUnappliedAt;

    public long ChangesApplied { get; private set; }
    public long TransactionsApplied { get; private set; }

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
            if (_begin is null && !_inTransaction)
            {
                _oldestUnappliedAt = null;
            }
            return;
        }
        // The group's last changes, its checkpoint and its COMMIT in one round trip.
        var checkpoint = new NpgsqlBatchCommand("UPDATE pgshift.tasks SET applied_lsn = $1 WHERE name = $2");
        checkpoint.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.PgLsn, Value = _groupEndLsn });
        checkpoint.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = task });
        await ExecuteBatchAsync(ct, wait: true, checkpoint);
        CommittedLsn = _groupEndLsn;
        _groupChanges = 0;
        _groupStartedAt = null;
        _oldestUnappliedAt = null;
    }

    /// <summary>Rolls back what is not committed (the stream restarts from <see cref="CommittedLsn"/>).</summary>
    public async Task AbandonAsync()
    {
        if (_inFlight is var (batch, _, execution))
        {
            _inFlight = null;
            try
            {
                await execution;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or OperationCanceledException)
            {
                // Whatever it did is rolled back with the transaction.
            }
            await batch.DisposeAsync();
        }
        if (_inTransaction)
        {
            _inTransaction = false;
            try
            {
                await using var rollback = new NpgsqlCommand("ROLLBACK", target);
                await rollback.ExecuteNonQueryAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection is gone, and the transaction with it.
            }
        }
    }

    private int _transactionChanges;
    private NpgsqlLogSequenceNumber _lastFinalLsn;

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
        _relations[r.RelationId] = new Relation(r, table, FoldingFor(r, table));
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
            _batch.BatchCommands.Add(cmd);
            _pending[cmd] = new Pending(kind.ToString().ToUpperInvariant(), net.Table.Target, new Lazy<string>(() => "(several)"), kind, _lastFinalLsn, rows);
        }
    }

    private async Task OnRowAsync(RowEvent row, CancellationToken ct)
    {
        if (_skipTransaction || _ignoredRelations.ContainsKey(row.RelationId))
        {
            return;
        }
        var relation = _relations[row.RelationId];
        var table = relation.Table;
        if (_begin is not null && _begin.FinalLsn < table.SyncLsn)
        {
            // The table was copied after this transaction committed: the copy holds it already.
            return;
        }
        var columns = table.Columns.Count;
        var full = relation.Message.ReplicaIdentity == 'f';
        // The statement's shape: which columns are set, which identify the row, which of those are NULL.
        ulong setMask = 0, whereMask = 0, nullMask = 0;
        var identity = row.Kind == RowChangeKind.Delete || row.Kind == RowChangeKind.Update ? row.Old ?? row.New! : null;
        for (var i = 0; i < columns && i < 64; i++)
        {
            if (table.TargetColumns[i] is null)
            {
                continue;
            }
            if (row.Kind == RowChangeKind.Insert || row.Kind == RowChangeKind.Update && !row.New![i].Unchanged)
            {
                setMask |= 1UL << i;
            }
            if (identity is not null && (full || relation.Message.Columns[i].IsKey) && !identity[i].Unchanged)
            {
                whereMask |= 1UL << i;
                if (identity[i].Text is null)
                {
                    nullMask |= 1UL << i;
                }
            }
        }
        if (row.Kind == RowChangeKind.Update && setMask == 0)
        {
            return;
        }
        // With REPLICA IDENTITY FULL and no column on the target (a table without columns), every row is the same.
        if (identity is not null && whereMask == 0 && !full)
        {
            throw new PgShiftException($"A change to {table.Source} carries no key to find its row on the target.",
                $"Give the table a primary key or REPLICA IDENTITY FULL on the source (ALTER TABLE {table.Source} REPLICA IDENTITY FULL).");
        }
        if (relation.Net is { } net && _lastFinalLsn > inOrderThrough)
        {
            if (net.TryAdd(row.Kind, row.Old, row.New))
            {
                _groupChanges++;
                _transactionChanges++;
                ChangesApplied++;
                _heldChars += Chars(row);
                if (++_folded >= options.FoldRows || _heldChars >= options.BatchChars)
                {
                    await ExecuteBatchAsync(ct);
                }
                return;
            }
            // This change must follow what is folded for its table: that goes first.
            Drain(net);
        }
        var shape = (row.RelationId, row.Kind, setMask, whereMask, nullMask);
        // Tables of more than 64 columns are not cached: the masks cannot describe them.
        if (columns > 64 || !_statements.TryGetValue(shape, out var sql))
        {
            sql = StatementFor(relation, row.Kind, row.New, identity);
            if (columns <= 64)
            {
                _statements[shape] = sql;
            }
        }
        var cmd = new NpgsqlBatchCommand(sql);
        if (row.Kind != RowChangeKind.Delete)
        {
            for (var i = 0; i < columns; i++)
            {
                if (table.TargetColumns[i] is not null && (row.Kind == RowChangeKind.Insert || !row.New![i].Unchanged))
                {
                    AddParam(cmd, row.New![i].Text);
                }
            }
        }
        if (identity is not null)
        {
            for (var i = 0; i < columns; i++)
            {
                if (table.TargetColumns[i] is not null && (full || relation.Message.Columns[i].IsKey) && !identity[i].Unchanged && identity[i].Text is not null)
                {
                    AddParam(cmd, identity[i].Text);
                }
            }
        }
        _batch.BatchCommands.Add(cmd);
        _pending[cmd] = new Pending(row.Kind.ToString().ToUpperInvariant(), table.Target, KeyText(relation, identity ?? row.New!), row.Kind, _begin?.FinalLsn);
        _groupChanges++;
        _transactionChanges++;
        ChangesApplied++;
        _heldChars += Chars(row);
        if (_batch.BatchCommands.Count >= options.BatchStatements || _heldChars >= options.BatchChars)
        {
            await ExecuteBatchAsync(ct);
        }
    }

    private readonly Dictionary<(uint, RowChangeKind, ulong, ulong, ulong), string> _statements = new();

    private static long Chars(RowEvent row)
    {
        long n = 0;
        foreach (var values in (ReadOnlySpan<ColumnValue[]?>)[row.Old, row.New])
        {
            foreach (var v in values ?? [])
            {
                n += v.Text?.Length ?? 0;
            }
        }
        return n;
    }

    /// <summary>
    /// The SQL of a change: parameters are the set (or inserted) values in column order, then the identifying
    /// values in column order (NULLs become IS NULL). For REPLICA IDENTITY FULL, one of several identical rows is
    /// picked by ctid, so each change hits exactly one row.
    /// </summary>
    private string StatementFor(Relation relation, RowChangeKind kind, ColumnValue[]? newRow, ColumnValue[]? identity)
    {
        var table = relation.Table;
        var full = relation.Message.ReplicaIdentity == 'f';
        var n = 0;
        string Next() => "$" + (++n).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        if (kind == RowChangeKind.Insert)
        {
            var cols = new List<string>();
            var values = new List<string>();
            for (var i = 0; i < table.Columns.Count; i++)
            {
                if (table.TargetColumns[i] is { } col)
                {
                    cols.Add(Sql.Ident(col));
                    values.Add(Next());
                }
            }
            sb.Append(cols.Count == 0
                ? $"INSERT INTO {table.Target} DEFAULT VALUES"
                : $"INSERT INTO {table.Target} ({string.Join(", ", cols)}) OVERRIDING SYSTEM VALUE VALUES ({string.Join(", ", values)})");
            if (conflicts == ConflictPolicy.Ignore)
            {
                sb.Append(" ON CONFLICT DO NOTHING");
            }
            return sb.ToString();
        }
        var sets = new List<string>();
        if (kind == RowChangeKind.Update)
        {
            for (var i = 0; i < table.Columns.Count; i++)
            {
                // An unchanged TOASTed value is not sent: the target keeps its own.
                if (table.TargetColumns[i] is { } col && !newRow![i].Unchanged)
                {
                    sets.Add($"{Sql.Ident(col)} = {Next()}");
                }
            }
        }
        var conditions = new List<string>();
        var sameText = new List<string>();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (table.TargetColumns[i] is not { } col || !(full || relation.Message.Columns[i].IsKey) || identity![i].Unchanged)
            {
                continue;
            }
            if (identity[i].Text is null)
            {
                conditions.Add($"{Sql.Ident(col)} IS NULL");
                continue;
            }
            var p = Next();
            // Text forms are compared as the target prints the value (the value parsed into the column's type, then
            // printed), so that an input the type normalises (an XML declaration, a json's spacing) still matches.
            var printed = table.TargetTypes.Count > i && table.TargetTypes[i] is { } type ? $"{p}::{type}::text" : $"{p}::text";
            if (!table.Columns[i].HasEquality)
            {
                conditions.Add($"{Sql.Ident(col)}::text = {printed}");
            }
            else
            {
                conditions.Add($"{Sql.Ident(col)} = {p}");
                if (full && !TextExactEquality.Contains(table.Columns[i].TypeOid))
                {
                    sameText.Add($"({Sql.Ident(col)}::text = {printed})::int");
                }
            }
        }
        // A table without columns (or with every column excluded) has only identical rows.
        var where = conditions.Count == 0 ? "true" : string.Join(" AND ", conditions);
        if (full)
        {
            // Of the rows that are equal, one whose values print the same as the source's: = holds for 0 and -0,
            // 1.0 and 1.00, 'a' and 'A' in citext, which are different rows to the application.
            var prefer = sameText.Count == 0 ? "" : $" ORDER BY {string.Join(" + ", sameText)} DESC";
            where = $"ctid = (SELECT ctid FROM {table.TargetOnly} WHERE {where}{prefer} LIMIT 1)";
        }
        return kind == RowChangeKind.Update
            ? $"UPDATE {table.TargetOnly} SET {string.Join(", ", sets)} WHERE {where}"
            : $"DELETE FROM {table.TargetOnly} WHERE {where}";
    }

    /// <summary>
    /// Built-in types whose equality holds only for values that print alike (bool, integers, oid, text, varchar, name,
    /// "char", bytea, uuid, date, time, timestamp, timestamptz): for these, = alone finds the very row.
    /// </summary>
    private static readonly HashSet<uint> TextExactEquality = [16, 17, 18, 19, 20, 21, 23, 25, 26, 1043, 1082, 1083, 1114, 1184, 2950];

    private static void AddParam(NpgsqlBatchCommand cmd, string? text)
        // Unknown-typed text: the target parses it into the column's type, as it would a literal.
        => cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = (object?)text ?? DBNull.Value });

    /// <summary>The row's key for a person (only built into an error message when a conflict happens).</summary>
    private static Lazy<string> KeyText(Relation relation, ColumnValue[] values)
        => new(() => "(" + string.Join(", ", relation.Table.Columns.Select((c, i) => (c, i))
            .Where(x => relation.Message.ReplicaIdentity == 'f' || relation.Message.Columns[x.i].IsKey)
            .Select(x => $"{x.c.Name}={(values[x.i].Text is { } v ? v.Length > 40 ? v[..40] + "..." : v : "NULL")}")) + ")");

    private async Task OnTruncateAsync(TruncateEvent t, CancellationToken ct)
    {
        if (_skipTransaction)
        {
            return;
        }
        await ExecuteBatchAsync(ct, wait: true);
        var targets = t.RelationIds.Where(_relations.ContainsKey).Select(id => _relations[id].Table)
            .Where(table => _begin is null || _begin.FinalLsn >= table.SyncLsn).Select(table => table.Target.ToString()).ToList();
        if (targets.Count == 0)
        {
            return;
        }
        await using (var savepoint = new NpgsqlCommand((_inTransaction ? "" : "BEGIN; ") + "SAVEPOINT pgshift_truncate", target))
        {
            _inTransaction = true;
            await savepoint.ExecuteNonQueryAsync(ct);
        }
        try
        {
            await using var cmd = new NpgsqlCommand($"TRUNCATE ONLY {string.Join(", ", targets)}{(t.RestartIdentity ? " RESTART IDENTITY" : "")}", target);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "0A000")
        {
            // TRUNCATE checks foreign keys even for a replica session: a referencing table that is not in this
            // TRUNCATE (not migrated, or not truncated on the source) keeps it from running. DELETE, whose
            // foreign-key triggers do not fire for a replica session, empties the tables instead.
            await using (var rollback = new NpgsqlCommand("ROLLBACK TO SAVEPOINT pgshift_truncate", target))
            {
                await rollback.ExecuteNonQueryAsync(ct);
            }
            foreach (var table in targets)
            {
                await using var delete = new NpgsqlCommand($"DELETE FROM ONLY {table}", target);
                await delete.ExecuteNonQueryAsync(ct);
            }
        }
        _groupChanges++;
        ChangesApplied++;
    }

    /// <summary>
    /// Sends what is held as one batch, and returns while the target executes it (unless <paramref name="wait"/>): the
    /// next batch is built meanwhile. A batch's results are checked before the next one goes or the group commits.
    /// With <paramref name="checkpoint"/>, the batch ends the group: the checkpoint, then COMMIT (in the same round trip
    /// unless a row count must be checked first).
    /// </summary>
    private async Task ExecuteBatchAsync(CancellationToken ct, bool wait = false, NpgsqlBatchCommand? checkpoint = null)
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
        await CompleteInFlightAsync();
        // Row counts are checked before the group commits: with an UPDATE or DELETE to check, COMMIT waits for its result.
        var commitAfterCheck = checkpoint is not null && conflicts == ConflictPolicy.Error && _pending.Values.Any(p => p.Kind != RowChangeKind.Insert);
        if (checkpoint is not null)
        {
            _batch.BatchCommands.Add(checkpoint);
            if (!commitAfterCheck)
            {
                _batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            }
        }
        if (_batch.BatchCommands.Count > 0)
        {
            if (!_inTransaction)
            {
                // No round trip of its own: BEGIN goes ahead of the group's first batch.
                _batch.BatchCommands.Insert(0, new NpgsqlBatchCommand("BEGIN"));
                _inTransaction = true;
            }
            _batch.Connection = target;
            _inFlight = (_batch, new Dictionary<NpgsqlBatchCommand, Pending>(_pending), _batch.ExecuteNonQueryAsync(ct));
            _batch = new NpgsqlBatch();
            _pending.Clear();
        }
        if (wait)
        {
            await CompleteInFlightAsync();
        }
        if (commitAfterCheck)
        {
            await using var commit = new NpgsqlCommand("COMMIT", target);
            await commit.ExecuteNonQueryAsync(ct);
        }
        if (checkpoint is not null)
        {
            _inTransaction = false;
        }
    }

    private (NpgsqlBatch Batch, Dictionary<NpgsqlBatchCommand, Pending> Pending, Task<int> Execution)? _inFlight;

    private async Task CompleteInFlightAsync()
    {
        if (_inFlight is not var (batch, pending, execution))
        {
            return;
        }
        _inFlight = null;
        await using var _ = batch;
        try
        {
            await execution;
        }
        catch (PostgresException pe) when (pe.SqlState is "23505" or "23P01")
        {
            // Npgsql does not say which command of the batch failed; the server names the table and the key.
            var set = pending.Values.FirstOrDefault(p => p.Rows is not null && pe.TableName is { } t && p.Table.Name == t)
                ?? pending.Values.FirstOrDefault(p => p.Rows is not null);
            if (set is not null)
            {
                // A key taken: by a change that conflicts, or only in the order the set statements chose? Replaying in order tells.
                throw new ReplayInOrderException(_lastFinalLsn, $"{set.What} of {set.Rows} rows of {set.Table}: {pe.MessageText}", pe);
            }
            var row = pending.Values.FirstOrDefault(p => pe.TableName is { } t && p.Table.Name == t && p.Kind != RowChangeKind.Delete);
            throw new PgShiftException(
                $"Conflict applying {row?.What ?? "a change"} to {(pe.SchemaName is { } s && pe.TableName is { } n ? new QualifiedName(s, n).ToString() : "the target")} " +
                $"(source transaction committed at {row?.CommitLsn?.ToString() ?? _lastFinalLsn.ToString()}): a row with this key exists already on the target ({pe.ConstraintName}: {pe.Detail}).",
                ConflictFix, pe);
        }
        if (conflicts == ConflictPolicy.Error)
        {
            foreach (var c in batch.BatchCommands.Cast<NpgsqlBatchCommand>())
            {
                if (!pending.TryGetValue(c, out var p) || p.Kind == RowChangeKind.Insert)
                {
                    continue;
                }
                if (p.Rows is { } rows && (long)c.RecordsAffected != rows)
                {
                    throw new ReplayInOrderException(_lastFinalLsn, $"{p.What} of {p.Table} affected {c.RecordsAffected} rows of {rows}");
                }
                if (p.Rows is null && c.RecordsAffected == 0)
                {
                    throw Conflict(p, "no row with this key on the target", null);
                }
            }
        }
        else
        {
            // Skipped, but never silently: every conflict the policy let pass is counted and said.
            long skipped = 0;
            Pending? example = null;
            foreach (var c in batch.BatchCommands.Cast<NpgsqlBatchCommand>())
            {
                if (pending.TryGetValue(c, out var p) && (long)c.RecordsAffected < (p.Rows ?? 1))
                {
                    skipped += (p.Rows ?? 1) - (long)c.RecordsAffected;
                    example ??= p;
                }
            }
            if (example is not null)
            {
                ConflictsSkipped += skipped;
                logger.LogWarning("Skipped {Count} conflicting changes (--on-conflict ignore; {Total} so far), e.g. {What} to {Table} key {Key} (source transaction committed at {Lsn})",
                    skipped, ConflictsSkipped, example.What, example.Table, example.Key.Value, example.CommitLsn?.ToString() ?? "?");
            }
        }
    }

    /// <summary>Changes skipped because they conflicted with the target, under <see cref="ConflictPolicy.Ignore"/>.</summary>
    public long ConflictsSkipped { get; private set; }

    private PgShiftException Conflict(Pending p, string problem, Exception? inner)
        => new($"Conflict applying {p.What} to {p.Table} key {p.Key.Value} (source transaction committed at {p.CommitLsn?.ToString() ?? "?"}): {problem}.",
            ConflictFix, inner);

    private const string ConflictFix = "The target was changed outside PgShift, or the copy and the stream disagree. Fix the row on the target and restart the task, " +
        "or restart it with --on-conflict ignore to skip such changes.";
}
