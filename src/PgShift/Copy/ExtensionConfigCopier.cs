using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Catalog;
using PgShift.Replication;
using PgShift.Connections;

namespace PgShift.Copy;

/// <summary>
/// Copies the user's rows of extensions' configuration tables (<see cref="ExtensionConfig"/>), as pg_dump does: CREATE
/// EXTENSION on the target made the tables and maybe default rows; the rows the extension's filter calls the user's are
/// deleted there and copied from the source, and the tables' sequences set to the source's values, in one target
/// transaction. Run again (a resumed copy, the cutover) it gives the same result, with the source's rows of then.
/// </summary>
public sealed class ExtensionConfigCopier(ILogger logger)
{
    /// <param name="snapshotName">The copy's exported snapshot, so the rows are those of the tables' snapshot; null: the source as it is now.</param>
    /// <returns>The rows copied.</returns>
    public async Task<long> CopyAsync(ConnectionSpec sourceSpec, ConnectionSpec targetSpec, string task, string? snapshotName, CancellationToken ct)
    {
        await using var source = await ConnectionOpener.OpenAsync(sourceSpec, "pgshift copy", ct);
        await BeginSourceAsync(source, snapshotName, ct);
        var config = await ExtensionConfig.LoadAsync(source, ct);
        if (config.Tables.Count == 0 && config.Sequences.Count == 0)
        {
            return 0;
        }
        await using var target = await ConnectionOpener.OpenAsync(targetSpec, "pgshift copy", ct);
        var targetExtensions = new HashSet<string>(StringComparer.Ordinal);
        await target.ForEachRowAsync("SELECT extname FROM pg_extension", r => targetExtensions.Add(r.GetString(0)), ct);
        var tables = config.Tables.Where(t => targetExtensions.Contains(t.Extension)).ToList();
        foreach (var missing in config.Tables.Except(tables))
        {
            logger.LogWarning("Configuration rows of {Table} not copied: extension {Extension} is not on the target", missing.Name, missing.Extension);
        }

        await using var tx = await target.BeginTransactionAsync(ct);
        // Values of reg* types (periods keeps regclass columns) are written and read schema-qualified, as pg_dump's are.
        await ExecAsync(target, "SET LOCAL search_path = ''", ct);
        // Referencing tables' rows go first, so that no foreign key between configuration tables is broken on the way.
        foreach (var t in Enumerable.Reverse(tables))
        {
            await ExecAsync(target, $"DELETE FROM ONLY {t.Name} {t.Condition}", ct);
        }
        var copier = new TableCopier(source, target, task);
        long rows = 0;
        foreach (var t in tables.Where(t => t.Columns.Count > 0))
        {
            var columns = string.Join(", ", t.Columns.Select(Sql.Ident));
            var (copied, _) = await copier.PipeTextAsync($"COPY (SELECT {columns} FROM ONLY {t.Name} {t.Condition}) TO STDOUT",
                $"COPY {t.Name} ({columns}) FROM STDIN", new TableProgress(t.Name, 0, 0), ct);
            rows += copied;
        }
        foreach (var sequence in config.Sequences)
        {
            await SyncSequenceAsync(source, target, sequence, ct);
        }
        await tx.CommitAsync(ct);
        await ExecAsync(source, "COMMIT", ct);
        logger.LogInformation("Copied {Rows} configuration rows of extensions ({Tables} tables, {Sequences} sequences)", rows, tables.Count, config.Sequences.Count);
        return rows;
    }

    private static async Task BeginSourceAsync(NpgsqlConnection source, string? snapshotName, CancellationToken ct)
    {
        if (snapshotName is null)
        {
            await ExecAsync(source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ct);
        }
        else
        {
            await ExportedSnapshot.ImportAsync(source, snapshotName, ct);
        }
        await ExecAsync(source, "SET LOCAL search_path = ''", ct);
    }

    private static async Task SyncSequenceAsync(NpgsqlConnection source, NpgsqlConnection target, QualifiedName sequence, CancellationToken ct)
    {
        long value = 0;
        var called = false;
        await source.ForEachRowAsync($"SELECT last_value, is_called FROM {sequence}", r => (value, called) = (r.GetInt64(0), r.GetBoolean(1)), ct);
        // Not there when its extension is not on the target: setval of NULL is NULL.
        await using var set = new NpgsqlCommand("SELECT setval(to_regclass(@seq), @v, @called)", target);
        set.Parameters.AddWithValue("seq", sequence.Quoted);
        set.Parameters.AddWithValue("v", value);
        set.Parameters.AddWithValue("called", called);
        await set.ExecuteScalarAsync(ct);
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
