using System.Buffers;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Replication;
using PgShift.State;
using PgShift.Throttling;

namespace PgShift.Copy;

/// <summary>
/// Copies one unit (a table, or a range of a split table) from a source snapshot to the target by
/// pass-through COPY: the source's COPY output goes into the target's COPY input as it arrives, never
/// parsed into rows (binary, or text where binary is not portable), so memory stays at one buffer.
/// </summary>
/// <param name="throttle">Bytes a second read from the source (shared by the task's workers); none: unlimited.</param>
public sealed class TableCopier(NpgsqlConnection source, NpgsqlConnection target, string task, Throttle? throttle = null)
{
    private readonly Throttle _throttle = throttle ?? Throttle.Unlimited;

    private const int BufferSize = 256 * 1024;

    /// <param name="wholeTable">One transaction loads the whole table: empty it first and COPY FREEZE, and mark it copied in the same transaction.</param>
    /// <returns>The rows and bytes copied; null when the table was truncated or rewritten on the source after the snapshot, which then cannot copy it.</returns>
    public async Task<(long Rows, long Bytes)?> CopyAsync(CopyUnit unit, string snapshotName, NpgsqlLogSequenceNumber syncLsn, bool wholeTable,
        TableProgress progress, CancellationToken ct)
    {
        var plan = unit.Table;
        await ExportedSnapshot.ImportAsync(source, snapshotName, ct);
        if (!await SameFileAsSnapshotAsync(plan.Source, ct))
        {
            await ExecAsync(source, "ROLLBACK", ct);
            return null;
        }
        await using var tx = await target.BeginTransactionAsync(ct);
        long rows = 0, bytes = 0;
        try
        {
            await ExecAsync(target, "SET LOCAL synchronous_commit = off", ct, tx);
            if (wholeTable)
            {
                await ExecAsync(target, $"TRUNCATE ONLY {plan.Target}", ct, tx);
            }
            var format = plan.Binary ? "binary" : "text";
            // A table without columns still has rows (one empty line each): COPY without a column list carries them.
            var noColumns = plan.StreamColumns.Count == 0;
            var sourceColumns = string.Join(", ", plan.SourceColumns.Select(Sql.Ident));
            var targetColumns = noColumns ? "" : $" ({string.Join(", ", plan.TargetColumns.Select(Sql.Ident))})";
            var copyOut = unit.Range is null
                ? $"COPY {plan.Source}{(noColumns ? "" : $" ({sourceColumns})")} TO STDOUT (FORMAT {format})"
                : $"COPY (SELECT {sourceColumns} FROM ONLY {plan.Source} WHERE {unit.Range}) TO STDOUT (FORMAT {format})";
            var copyIn = $"COPY {plan.Target}{targetColumns} FROM STDIN (FORMAT {format}{(wholeTable ? ", FREEZE" : "")})";
            if (plan.SourceColumns.Count > 0 || noColumns)
            {
                (rows, bytes) = plan.Binary
                    ? await PipeBinaryAsync(copyOut, copyIn, progress, ct)
                    : await PipeTextAsync(copyOut, copyIn, progress, ct);
            }
            if (wholeTable)
            {
                await CopyState.MarkDoneAsync(target, tx, task, plan.SourceKey, syncLsn, rows, bytes, ct);
            }
            await tx.CommitAsync(ct);
            await ExecAsync(source, "COMMIT", ct);
            return (rows, bytes);
        }
        catch
        {
            progress.Subtract(rows, bytes);
            throw;
        }
    }

    /// <summary>
    /// Locks the table against TRUNCATE until this transaction ends, then says whether its data is still in the file the
    /// snapshot knew. TRUNCATE (like any rewrite) is not MVCC-safe: it gives the table a new file, and a snapshot older
    /// than it reads that file as empty. pg_class as of the snapshot names the old file; the catalog cache, the new one.
    /// </summary>
    private async Task<bool> SameFileAsSnapshotAsync(QualifiedName table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            LOCK TABLE ONLY {table} IN ACCESS SHARE MODE;
            SELECT c.relfilenode = pg_relation_filenode(c.oid) FROM pg_class c WHERE c.oid = {Sql.Literal(table.ToString())}::regclass
            """, source);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    private async Task<(long Rows, long Bytes)> PipeBinaryAsync(string copyOut, string copyIn, TableProgress progress, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var counter = new BinaryCopyRowCounter();
        long bytes = 0, reported = 0;
        try
        {
            var input = await target.BeginRawBinaryCopyAsync(copyIn, ct);
            try
            {
                await using var output = await source.BeginRawBinaryCopyAsync(copyOut, ct);
                int n;
                while ((n = await output.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0)
                {
                    await _throttle.WaitAsync(n, ct);
                    await input.WriteAsync(buffer.AsMemory(0, n), ct);
                    counter.Feed(buffer.AsSpan(0, n));
                    bytes += n;
                    progress.Add(counter.Rows - reported, n);
                    reported = counter.Rows;
                }
            }
            catch
            {
                await AbandonAsync(input.CancelAsync, input.DisposeAsync);
                throw;
            }
            await input.DisposeAsync();
            return (counter.Rows, bytes);
        }
        catch
        {
            progress.Subtract(0, bytes);
            progress.Subtract(reported, 0);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Pipes one text COPY from the source into one on the target, in whatever transactions the sessions are in.</summary>
    internal async Task<(long Rows, long Bytes)> PipeTextAsync(string copyOut, string copyIn, TableProgress progress, CancellationToken ct)
    {
        var buffer = ArrayPool<char>.Shared.Rent(BufferSize);
        long rows = 0, chars = 0;
        try
        {
            var input = await target.BeginTextImportAsync(copyIn, ct);
            try
            {
                using var output = await source.BeginTextExportAsync(copyOut, ct);
                int n;
                while ((n = await output.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0)
                {
                    await _throttle.WaitAsync(n, ct);
                    await input.WriteAsync(buffer.AsMemory(0, n), ct);
                    // In text COPY a row is one line: newlines inside values are escaped.
                    var lines = buffer.AsSpan(0, n).Count('\n');
                    rows += lines;
                    chars += n;
                    progress.Add(lines, n);
                }
            }
            catch
            {
                await AbandonAsync(input.CancelAsync, input.DisposeAsync);
                throw;
            }
            await input.DisposeAsync();
            return (rows, chars);
        }
        catch
        {
            progress.Subtract(rows, chars);
            throw;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Ends the target's COPY as cancelled when reading the source failed: ended normally, it would load what arrived
    /// (or fail on a row cut short, an error that would hide the source's, which says whether to retry).
    /// </summary>
    private static async Task AbandonAsync(Func<Task> cancel, Func<ValueTask> dispose)
    {
        try
        {
            await cancel();
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The target's connection is gone, and its COPY with it.
        }
        try
        {
            await dispose();
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct, NpgsqlTransaction? tx = null)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
