using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Stream;

/// <summary>What a statement in a batch applies, for the checks of its row count and for a person when it conflicts.</summary>
/// <param name="Rows">For a set statement, the rows it must affect; null for a single change.</param>
internal sealed record PendingChange(string What, QualifiedName Table, Lazy<string> Key, RowChangeKind Kind, NpgsqlLogSequenceNumber? CommitLsn, int? Rows = null);

/// <summary>
/// The target side of the apply: statements go out in batches of one round trip each, and the next batch is built
/// while the target executes one; one target transaction spans a group of source transactions (BEGIN goes with its
/// first batch, the checkpoint and COMMIT with its last). A batch's results are checked before the next one goes or
/// the group commits: a change that conflicts stops the stream (or is skipped and counted, under
/// <see cref="ConflictPolicy.Ignore"/>), and a set statement that disagrees asks for a replay in order.
/// </summary>
internal sealed class ApplyPipeline(NpgsqlConnection target, ConflictPolicy conflicts, ILogger logger)
{
    private NpgsqlBatch _batch = new();
    private readonly Dictionary<NpgsqlBatchCommand, PendingChange> _pending = new();
    private (NpgsqlBatch Batch, Dictionary<NpgsqlBatchCommand, PendingChange> Pending, Task<int> Execution)? _inFlight;

    /// <summary>A target transaction is open: BEGIN went out with the group's first batch, its COMMIT goes with the last.</summary>
    public bool InTransaction { get; private set; }

    /// <summary>Statements held for the next round trip.</summary>
    public int Held => _batch.BatchCommands.Count;

    /// <summary>Changes skipped because they conflicted with the target, under <see cref="ConflictPolicy.Ignore"/>.</summary>
    public long ConflictsSkipped { get; private set; }

    public void Add(NpgsqlBatchCommand cmd, PendingChange change)
    {
        _batch.BatchCommands.Add(cmd);
        _pending[cmd] = change;
    }

    /// <summary>
    /// Sends what is held as one batch, and returns while the target executes it (unless <paramref name="wait"/>): the
    /// next batch is built meanwhile. With <paramref name="checkpoint"/>, the batch ends the group: the checkpoint, then
    /// COMMIT (in the same round trip unless a row count must be checked first).
    /// </summary>
    /// <param name="through">The commit position of the last source transaction received: a replay in order goes that far.</param>
    public async Task SendAsync(NpgsqlLogSequenceNumber through, CancellationToken ct, bool wait = false, NpgsqlBatchCommand? checkpoint = null)
    {
        await CompleteInFlightAsync(through);
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
            if (!InTransaction)
            {
                // No round trip of its own: BEGIN goes ahead of the group's first batch.
                _batch.BatchCommands.Insert(0, new NpgsqlBatchCommand("BEGIN"));
                InTransaction = true;
            }
            _batch.Connection = target;
            _inFlight = (_batch, new Dictionary<NpgsqlBatchCommand, PendingChange>(_pending), _batch.ExecuteNonQueryAsync(ct));
            _batch = new NpgsqlBatch();
            _pending.Clear();
        }
        if (wait)
        {
            await CompleteInFlightAsync(through);
        }
        if (commitAfterCheck)
        {
            await using var commit = new NpgsqlCommand("COMMIT", target);
            await commit.ExecuteNonQueryAsync(ct);
        }
        if (checkpoint is not null)
        {
            InTransaction = false;
        }
    }

    /// <summary>
    /// Runs a TRUNCATE in the group's transaction (call with nothing in flight). TRUNCATE checks foreign keys even for a
    /// replica session: where a referencing table that is not in it (not migrated, or not truncated on the source) keeps
    /// it from running, DELETE empties the tables instead, whose foreign-key triggers do not fire for a replica session.
    /// </summary>
    public async Task TruncateAsync(IReadOnlyList<QualifiedName> tables, bool restartIdentity, CancellationToken ct)
    {
        await using (var savepoint = new NpgsqlCommand((InTransaction ? "" : "BEGIN; ") + "SAVEPOINT pgshift_truncate", target))
        {
            InTransaction = true;
            await savepoint.ExecuteNonQueryAsync(ct);
        }
        try
        {
            await using var cmd = new NpgsqlCommand(ChangeStatements.TruncateSql(tables, restartIdentity), target);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "0A000")
        {
            await using (var rollback = new NpgsqlCommand("ROLLBACK TO SAVEPOINT pgshift_truncate", target))
            {
                await rollback.ExecuteNonQueryAsync(ct);
            }
            foreach (var table in tables)
            {
                await using var delete = new NpgsqlCommand(ChangeStatements.DeleteAllSql(table), target);
                await delete.ExecuteNonQueryAsync(ct);
            }
        }
    }

    /// <summary>Runs a statement of a schema change in the group's transaction (call with nothing held or in flight).</summary>
    public async Task ExecuteAsync(string sql, CancellationToken ct)
    {
        await BeginAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, target);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Opens the group's transaction if it is not open (call with nothing held or in flight).</summary>
    public async Task BeginAsync(CancellationToken ct)
    {
        if (!InTransaction)
        {
            await using var begin = new NpgsqlCommand("BEGIN", target);
            await begin.ExecuteNonQueryAsync(ct);
            InTransaction = true;
        }
    }

    /// <summary>Rolls back what is not committed.</summary>
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
        if (InTransaction)
        {
            InTransaction = false;
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

    private async Task CompleteInFlightAsync(NpgsqlLogSequenceNumber through)
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
            throw KeyTaken(pe, pending, through);
        }
        if (conflicts == ConflictPolicy.Error)
        {
            CheckRowCounts(batch, pending, through);
        }
        else
        {
            CountSkipped(batch, pending);
        }
    }

    private static Exception KeyTaken(PostgresException pe, Dictionary<NpgsqlBatchCommand, PendingChange> pending, NpgsqlLogSequenceNumber through)
    {
        // Npgsql does not say which command of the batch failed; the server names the table and the key.
        var set = pending.Values.FirstOrDefault(p => p.Rows is not null && pe.TableName is { } t && p.Table.Name == t)
            ?? pending.Values.FirstOrDefault(p => p.Rows is not null);
        if (set is not null)
        {
            // A key taken: by a change that conflicts, or only in the order the set statements chose? Replaying in order tells.
            return new ReplayInOrderException(through, $"{set.What} of {set.Rows} rows of {set.Table}: {pe.MessageText}", pe);
        }
        var row = pending.Values.FirstOrDefault(p => pe.TableName is { } t && p.Table.Name == t && p.Kind != RowChangeKind.Delete);
        return new PgShiftException(
            $"Conflict applying {row?.What ?? "a change"} to {(pe.SchemaName is { } s && pe.TableName is { } n ? new QualifiedName(s, n).ToString() : "the target")} " +
            $"(source transaction committed at {row?.CommitLsn?.ToString() ?? through.ToString()}): a row with this key exists already on the target ({pe.ConstraintName}: {pe.Detail}).",
            ConflictFix, pe);
    }

    private static void CheckRowCounts(NpgsqlBatch batch, Dictionary<NpgsqlBatchCommand, PendingChange> pending, NpgsqlLogSequenceNumber through)
    {
        foreach (var c in batch.BatchCommands.Cast<NpgsqlBatchCommand>())
        {
            if (!pending.TryGetValue(c, out var p) || p.Kind == RowChangeKind.Insert)
            {
                continue;
            }
            if (p.Rows is { } rows && (long)c.RecordsAffected != rows)
            {
                throw new ReplayInOrderException(through, $"{p.What} of {p.Table} affected {c.RecordsAffected} rows of {rows}");
            }
            if (p.Rows is null && c.RecordsAffected == 0)
            {
                throw new PgShiftException(
                    $"Conflict applying {p.What} to {p.Table} key {p.Key.Value} (source transaction committed at {p.CommitLsn?.ToString() ?? "?"}): no row with this key on the target.",
                    ConflictFix);
            }
        }
    }

    private void CountSkipped(NpgsqlBatch batch, Dictionary<NpgsqlBatchCommand, PendingChange> pending)
    {
        // Skipped, but never silently: every conflict the policy let pass is counted and said.
        long skipped = 0;
        PendingChange? example = null;
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

    private const string ConflictFix = "The target was changed outside PgShift, or the copy and the stream disagree. Fix the row on the target and restart the task, " +
        "or restart it with --on-conflict ignore to skip such changes.";
}
