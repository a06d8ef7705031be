using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>What a staged row holds: the beginning or the end of a source transaction, or one of its events.</summary>
public enum StagedKind : byte
{
    Begin = (byte)'B',
    Commit = (byte)'C',
    /// <summary>A Relation, row or TRUNCATE message, in the stream's own binary form.</summary>
    Event = (byte)'E',
    /// <summary>A Relation message: kept until every staged change is applied, since later changes need the table's shape.</summary>
    TableShape = (byte)'L',
}

/// <summary>One staged row, in the order the stream gave it (<paramref name="Seq"/>).</summary>
/// <param name="CommitLsn">The commit LSN of the source transaction the row belongs to.</param>
/// <param name="EndLsn">For a commit, the end LSN of its transaction.</param>
/// <param name="Xid">For a beginning, the source transaction's id.</param>
public sealed record StagedRow(long Seq, StagedKind Kind, NpgsqlLogSequenceNumber CommitLsn, NpgsqlLogSequenceNumber? EndLsn, DateTime? CommitTime, uint Xid, byte[]? Event);

/// <summary>
/// How far staging got: <paramref name="Lsn"/> is the end LSN of the last source transaction staged whole, and
/// <paramref name="Seq"/> its commit's row; rows after it belong to a transaction staged in part, and are discarded.
/// </summary>
public sealed record StageMark(NpgsqlLogSequenceNumber? Lsn, long Seq, long Changes);

/// <summary>
/// The changes read from the task's slot while its tables still copy (DESIGN.md, invariant 8), kept on the target in
/// <c>pgshift.staged_changes</c>: loaded with COPY, a chunk at a time, each chunk in a target transaction that also
/// moves the task's stage mark, so the slot is acknowledged only up to what is staged. They are removed once all are applied.
/// </summary>
public static class StagedChanges
{
    private const string Columns = "task, seq, kind, commit_lsn, end_lsn, commit_time, xid, event";

    /// <summary>The task's stage mark, with the rows of a transaction staged in part (after it) deleted.</summary>
    public static async Task<StageMark> DiscardPartialAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH gone AS (
                DELETE FROM pgshift.staged_changes s USING pgshift.tasks t
                WHERE s.task = @t AND t.name = @t AND s.seq > coalesce(t.staged_seq, 0) RETURNING s.kind)
            UPDATE pgshift.tasks SET staged_changes = greatest(staged_changes - (SELECT count(*) FROM gone WHERE kind = 'E'), 0)
            WHERE name = @t
            RETURNING staged_lsn, coalesce(staged_seq, 0), staged_changes
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        if (!await rd.ReadAsync(ct))
        {
            return new StageMark(null, 0, 0);
        }
        return new StageMark(rd.IsDBNull(0) ? null : rd.GetFieldValue<NpgsqlLogSequenceNumber>(0), rd.GetInt64(1), rd.GetInt64(2));
    }

    /// <summary>The end LSN of the last transaction staged whole (null: none): the slot is acknowledged up to it.</summary>
    public static async Task<NpgsqlLogSequenceNumber?> MarkLsnAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT staged_lsn FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is NpgsqlLogSequenceNumber lsn ? lsn : null;
    }

    /// <summary>The row of the last transaction staged whole (0: none), read while staging goes on: nothing is deleted.</summary>
    public static async Task<long> MarkAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(staged_seq, 0) FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is long seq ? seq : 0;
    }

    /// <summary>Whether the task has staged rows.</summary>
    public static async Task<bool> AnyAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('pgshift.staged_changes') IS NOT NULL", target))
        {
            if (await exists.ExecuteScalarAsync(ct) is not true)
            {
                return false;
            }
        }
        await using var cmd = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pgshift.staged_changes WHERE task = @t)", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Opens a chunk: a target transaction with a binary COPY into the staging table. The caller disposes it.</summary>
    public static async Task<StageChunk> BeginChunkAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        var tx = await target.BeginTransactionAsync(ct);
        var importer = await target.BeginBinaryImportAsync($"COPY pgshift.staged_changes ({Columns}) FROM STDIN (FORMAT BINARY)", ct);
        return new StageChunk(target, tx, importer, task);
    }

    /// <summary>
    /// The staged rows after <paramref name="afterSeq"/> and not after <paramref name="throughSeq"/>, in order, read as one
    /// query (the rows stream as they are taken).
    /// </summary>
    public static async IAsyncEnumerable<StagedRow> ReadAsync(NpgsqlConnection target, string task, long afterSeq, long throughSeq,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT seq, kind, commit_lsn, end_lsn, commit_time, xid, event FROM pgshift.staged_changes
            WHERE task = @t AND seq > @after AND seq <= @through ORDER BY seq
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("after", afterSeq);
        cmd.Parameters.AddWithValue("through", throughSeq);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            yield return new StagedRow(rd.GetInt64(0), (StagedKind)rd.GetFieldValue<byte>(1), rd.GetFieldValue<NpgsqlLogSequenceNumber>(2),
                rd.IsDBNull(3) ? null : rd.GetFieldValue<NpgsqlLogSequenceNumber>(3), rd.IsDBNull(4) ? null : rd.GetDateTime(4),
                rd.IsDBNull(5) ? 0 : (uint)rd.GetInt64(5), rd.IsDBNull(6) ? null : rd.GetFieldValue<byte[]>(6));
        }
    }

    /// <summary>
    /// Every staged change is applied: the task's staged rows go, the mark stays (where staging stopped). When no other
    /// task has rows staged, the table is emptied with TRUNCATE (at once, whatever its size), else the task's rows are deleted.
    /// </summary>
    public static async Task ClearAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using (var tx = await target.BeginTransactionAsync(ct))
        {
            // A stager of another task holds the table while it writes a chunk (half a second at most): the lock waits
            // that long, not for a reader that lingers.
            await using var cmd = new NpgsqlCommand("""
                SET LOCAL lock_timeout = '2s';
                LOCK TABLE pgshift.staged_changes IN ACCESS EXCLUSIVE MODE;
                SELECT NOT EXISTS (SELECT 1 FROM pgshift.staged_changes WHERE task <> @t);
                """, target, tx);
            cmd.Parameters.AddWithValue("t", task);
            try
            {
                if (await cmd.ExecuteScalarAsync(ct) is true)
                {
                    await using var truncate = new NpgsqlCommand("TRUNCATE pgshift.staged_changes; UPDATE pgshift.tasks SET staged_changes = 0, staged_applied = 0 WHERE name = @t", target, tx);
                    truncate.Parameters.AddWithValue("t", task);
                    await truncate.ExecuteNonQueryAsync(ct);
                    await tx.CommitAsync(ct);
                    return;
                }
            }
            catch (PostgresException pe) when (pe.SqlState is "55P03" or "42501")
            {
                // Not free within the timeout, or not this role's to truncate: the rows are deleted instead.
            }
        }
        await using var delete = new NpgsqlCommand("""
            DELETE FROM pgshift.staged_changes WHERE task = @t;
            UPDATE pgshift.tasks SET staged_changes = 0, staged_applied = 0 WHERE name = @t;
            """, target);
        delete.Parameters.AddWithValue("t", task);
        await delete.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records the source's WAL that the task's slot keeps, and that staging is alive, for `pgshift status`.</summary>
    public static async Task RecordTickAsync(NpgsqlConnection target, string task, long slotRetainedBytes, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET slot_retained_bytes = @r, staging_heartbeat = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("r", slotRetainedBytes);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Changes staged and not yet applied, and the disk the staging table takes on the target (all tasks').</summary>
    public static async Task<(long Changes, long Bytes, bool Running)> SummaryAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT staged_changes, coalesce(pg_total_relation_size(to_regclass('pgshift.staged_changes')), 0),
                   coalesce(staging_heartbeat > now() - interval '5 seconds', false)
            FROM pgshift.tasks WHERE name = @t
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        return await rd.ReadAsync(ct) ? (rd.GetInt64(0), rd.GetInt64(1), rd.GetBoolean(2)) : (0, 0, false);
    }
}

/// <summary>
/// One chunk of staged rows: written with COPY, then committed with the stage mark in the same target transaction
/// (staging and its progress commit together).
/// </summary>
public sealed class StageChunk(NpgsqlConnection target, NpgsqlTransaction tx, NpgsqlBinaryImporter importer, string task) : IAsyncDisposable
{
    /// <summary>Rows written to this chunk.</summary>
    public int Rows { get; private set; }

    /// <summary>Row changes and TRUNCATEs written to this chunk (what status counts as changes staged).</summary>
    public int Changes { get; private set; }

    /// <summary>Bytes of event payload written to this chunk.</summary>
    public long Bytes { get; private set; }

    public async Task WriteAsync(StagedRow row, CancellationToken ct)
    {
        await importer.StartRowAsync(ct);
        await importer.WriteAsync(task, NpgsqlDbType.Text, ct);
        await importer.WriteAsync(row.Seq, NpgsqlDbType.Bigint, ct);
        await importer.WriteAsync((byte)row.Kind, NpgsqlDbType.InternalChar, ct);
        await importer.WriteAsync(row.CommitLsn, NpgsqlDbType.PgLsn, ct);
        if (row.EndLsn is { } end)
        {
            await importer.WriteAsync(end, NpgsqlDbType.PgLsn, ct);
        }
        else
        {
            await importer.WriteNullAsync(ct);
        }
        if (row.CommitTime is { } time)
        {
            await importer.WriteAsync(DateTime.SpecifyKind(time, DateTimeKind.Utc), NpgsqlDbType.TimestampTz, ct);
        }
        else
        {
            await importer.WriteNullAsync(ct);
        }
        await importer.WriteAsync((long)row.Xid, NpgsqlDbType.Bigint, ct);
        if (row.Event is { } e)
        {
            await importer.WriteAsync(e, NpgsqlDbType.Bytea, ct);
            Bytes += e.Length;
        }
        else
        {
            await importer.WriteNullAsync(ct);
        }
        Rows++;
        if (row.Kind == StagedKind.Event)
        {
            Changes++;
        }
    }

    /// <summary>Ends the COPY and commits the chunk with the mark: <paramref name="mark"/> is the last transaction staged whole (null: unchanged).</summary>
    public async Task CommitAsync((NpgsqlLogSequenceNumber Lsn, long Seq)? mark, CancellationToken ct)
    {
        await importer.CompleteAsync(ct);
        await importer.DisposeAsync();
        await using (var cmd = new NpgsqlCommand("""
            UPDATE pgshift.tasks SET staged_changes = staged_changes + @n,
                   staged_lsn = coalesce(@l, staged_lsn), staged_seq = coalesce(@s, staged_seq)
            WHERE name = @t
            """, target, tx))
        {
            cmd.Parameters.AddWithValue("t", task);
            cmd.Parameters.AddWithValue("n", (long)Changes);
            cmd.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = mark is { } m ? m.Lsn : DBNull.Value });
            cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Bigint) { Value = mark is { } m2 ? m2.Seq : DBNull.Value });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await importer.DisposeAsync();
        await tx.DisposeAsync();
    }
}
