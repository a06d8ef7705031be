using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>Which tables of a task are copied, with the position each copy was taken at; kept on the target.</summary>
public static class CopyState
{
    /// <summary>Records the tables a copy plans (new ones pending; a copied table keeps the columns its stream was set up with).</summary>
    public static async Task RegisterAsync(NpgsqlConnection target, string task, IEnumerable<PlannedTable> plans, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        foreach (var p in plans)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO pgshift.copy_tables (task, source_table, target_table, estimated_bytes, estimated_rows, stream_columns)
                VALUES (@t, @s, @g, @b, @r, @c)
                ON CONFLICT (task, source_table) DO UPDATE SET estimated_bytes = excluded.estimated_bytes, estimated_rows = excluded.estimated_rows,
                    stream_columns = CASE WHEN pgshift.copy_tables.status = 'done' THEN pgshift.copy_tables.stream_columns ELSE excluded.stream_columns END
                """, target);
            cmd.Parameters.AddWithValue("c", p.StreamColumns.ToArray());
            cmd.Parameters.AddWithValue("t", task);
            cmd.Parameters.AddWithValue("s", p.SourceKey);
            cmd.Parameters.AddWithValue("g", p.TargetTable);
            cmd.Parameters.AddWithValue("b", p.EstimatedBytes);
            cmd.Parameters.AddWithValue("r", p.EstimatedRows);
            await cmd.ExecuteNonQueryAsync(ct);
        }
    }

    /// <summary>
    /// Marks tables to be copied again (at cutover: unlogged tables, whose rows reach the target only by copying); returns
    /// those of the task's tables that were marked.
    /// </summary>
    public static async Task<List<string>> RecopyAsync(NpgsqlConnection target, string task, IReadOnlyCollection<string> sourceTables, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.copy_tables SET status = 'pending', rows_copied = 0, bytes_copied = 0
            WHERE task = @t AND source_table = ANY(@tables)
            RETURNING source_table
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("tables", sourceTables.ToArray());
        var marked = new List<string>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            marked.Add(rd.GetString(0));
        }
        return marked;
    }

    /// <summary>The tables the task knows (always-quoted source names), copied or not.</summary>
    public static async Task<HashSet<string>> KnownAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT source_table FROM pgshift.copy_tables WHERE task = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            known.Add(rd.GetString(0));
        }
        return known;
    }

    public static async Task<HashSet<string>> DoneAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("SELECT source_table FROM pgshift.copy_tables WHERE task = @t AND status = 'done'", target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            done.Add(rd.GetString(0));
        }
        return done;
    }

    /// <summary>Marks a table copied, in the caller's transaction: with the data when one transaction loads the whole table.</summary>
    public static async Task MarkDoneAsync(NpgsqlConnection target, NpgsqlTransaction? tx, string task, string sourceTable, NpgsqlLogSequenceNumber syncLsn,
        long rows, long bytes, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.copy_tables SET status = 'done', sync_lsn = @l, rows_copied = @r, bytes_copied = @b, finished_at = now()
            WHERE task = @t AND source_table = @s
            """, target, tx);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("s", sourceTable);
        cmd.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.PgLsn) { Value = syncLsn });
        cmd.Parameters.AddWithValue("r", rows);
        cmd.Parameters.AddWithValue("b", bytes);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The statement that raises the sync LSN of <paramref name="sourceTables"/> to <paramref name="lsn"/>, to go last in the
    /// target transaction that applied to them every staged change committed before it (so the stream applies them only
    /// from there on, invariant 2), and counts its <paramref name="changes"/> among the staged ones applied (for `pgshift
    /// status`). It fails, and with it that transaction, unless every one of them is a copied table of the task.
    /// </summary>
    public static NpgsqlBatchCommand RaiseSyncCommand(string task, IReadOnlyCollection<string> sourceTables, NpgsqlLogSequenceNumber lsn, long changes)
    {
        var cmd = new NpgsqlBatchCommand("""
            WITH raised AS (
                UPDATE pgshift.copy_tables SET sync_lsn = greatest(sync_lsn, $1)
                WHERE task = $2 AND source_table = ANY($3) AND status = 'done' RETURNING 1),
            counted AS (UPDATE pgshift.tasks SET staged_applied = coalesce(staged_applied, 0) + $5 WHERE name = $2)
            -- A failed cast is an error in plain SQL: it names the mismatch.
            SELECT CASE WHEN count(*) = $4 THEN 1
                        ELSE ('tables applied to during the copy: ' || $4 || ', copied tables of the task among them: ' || count(*))::int END
            FROM raised
            """);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.PgLsn, Value = lsn });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = task });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = sourceTables.ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (long)sourceTables.Count });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = changes });
        return cmd;
    }

    /// <summary>Progress for `pgshift status` from another shell; autocommitted, so it is only a report, never a checkpoint.</summary>
    public static async Task ReportProgressAsync(NpgsqlConnection target, string task, IEnumerable<(string Table, long Rows, long Bytes, bool Started)> progress, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(target);
        foreach (var (table, rows, bytes, started) in progress)
        {
            var cmd = new NpgsqlBatchCommand("""
                UPDATE pgshift.copy_tables SET rows_copied = @r, bytes_copied = @b, started_at = coalesce(started_at, CASE WHEN @st THEN now() END)
                WHERE task = @t AND source_table = @s AND status <> 'done'
                """);
            cmd.Parameters.AddWithValue("t", task);
            cmd.Parameters.AddWithValue("s", table);
            cmd.Parameters.AddWithValue("r", rows);
            cmd.Parameters.AddWithValue("b", bytes);
            cmd.Parameters.AddWithValue("st", started);
            batch.BatchCommands.Add(cmd);
        }
        if (batch.BatchCommands.Count > 0)
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
    }
}

/// <summary>A table as a copy plans it: its names (always quoted), its size estimates and the columns its stream carries.</summary>
public sealed record PlannedTable(string SourceKey, string TargetTable, long EstimatedBytes, long EstimatedRows, IReadOnlyList<string> StreamColumns);
