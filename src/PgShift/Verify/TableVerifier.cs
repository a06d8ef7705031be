using System.Collections.Concurrent;
using System.Globalization;
using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;

namespace PgShift.Verify;

/// <summary>
/// Proves the target holds the source's rows: per chunk of key range (or per table without an integer key), the
/// row count and an order-independent sum of a 64-bit hash of each row's canonical text, read in parallel on
/// both sides. A chunk that differs is read again (the stream may still be applying it) and, if it still
/// differs, reported with example keys.
/// </summary>
/// <param name="targetMajorVersion">The target's major version (both sides must hash alike).</param>
public sealed class TableVerifier(VerifyOptions options, int targetMajorVersion, string? sourceSnapshot = null)
{
    /// <summary>Settings that shape the text of values, pinned alike on both sides.</summary>
    internal const string CanonicalSettings =
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

    // Both sides must hash alike: hashtextextended exists from PostgreSQL 11 on, md5 everywhere.
    private bool legacyHash = targetMajorVersion < 11;

    public async Task<List<TableVerification>> VerifyAsync(IReadOnlyList<VerifyTable> tables, CancellationToken ct)
    {
        var chunks = await PlanChunksAsync(tables, ct);
        var results = new ConcurrentDictionary<VerifyTable, ConcurrentBag<(long SourceRows, long TargetRows, ChunkDifference? Difference)>>();
        // At most Jobs pairs of sessions, each reused chunk after chunk, largest tables first.
        var idle = new ConcurrentBag<SessionPair>();
        try
        {
            await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Jobs), CancellationToken = ct }, async (chunk, token) =>
            {
                var pair = idle.TryTake(out var taken) ? taken : await OpenPairAsync(token);
                try
                {
                    var outcome = await CompareChunkAsync(pair.Source, pair.Target, chunk.Table, chunk.From, chunk.To, token);
                    results.GetOrAdd(chunk.Table, _ => new()).Add(outcome);
                }
                finally
                {
                    idle.Add(pair);
                }
            });
        }
        finally
        {
            foreach (var pair in idle)
            {
                await pair.DisposeAsync();
            }
        }
        return tables.Select(t =>
        {
            var r = results.GetValueOrDefault(t) ?? new();
            return new TableVerification(t.Source.ToString(), t.Target.ToString(), r.Sum(x => x.SourceRows), r.Sum(x => x.TargetRows), r.Count,
                r.Where(x => x.Difference is not null).Select(x => x.Difference!).OrderBy(d => d.Range, StringComparer.Ordinal).ToList());
        }).ToList();
    }

    /// <summary>The chunks to compare, largest tables first: key ranges of about ChunkRows rows, or the whole table without an integer key.</summary>
    private async Task<List<(VerifyTable Table, long? From, long? To)>> PlanChunksAsync(IReadOnlyList<VerifyTable> tables, CancellationToken ct)
    {
        var chunks = new List<(VerifyTable Table, long? From, long? To)>();
        await using var source = await OpenSourceAsync(ct);
        legacyHash |= source.PostgreSqlVersion.Major < 11;
        foreach (var t in tables.OrderByDescending(t => t.EstimatedRows))
        {
            if (t.IntegerKey is null)
            {
                chunks.Add((t, null, null));
                continue;
            }
            await using var cmd = new NpgsqlCommand($"SELECT min({Sql.Ident(t.IntegerKey)})::bigint, max({Sql.Ident(t.IntegerKey)})::bigint FROM ONLY {t.Source}", source);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            var min = rd.IsDBNull(0) ? 0 : rd.GetInt64(0);
            var max = rd.IsDBNull(1) ? 0 : rd.GetInt64(1);
            // Statistics can be missing (a table never analyzed): the key span bounds the row count as well.
            var rows = Math.Max(t.EstimatedRows, 0);
            var span = max - min + 1;
            var estimate = rows > 0 ? Math.Min(rows, span) : span;
            var parts = (int)Math.Clamp(estimate / options.ChunkRows + 1, 1, 1000);
            var step = Math.Max(1, (max - min) / parts + 1);
            for (var i = 0; i < parts; i++)
            {
                // The first chunk is open below and the last open above, so no row falls outside.
                chunks.Add((t, i == 0 ? null : min + i * step, i == parts - 1 ? null : min + (i + 1) * step));
            }
        }
        return chunks;
    }

    /// <summary>A worker's sessions: the source in the verify's snapshot, and the target.</summary>
    private sealed record SessionPair(NpgsqlConnection Source, NpgsqlConnection Target) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Source.DisposeAsync();
            await Target.DisposeAsync();
        }
    }

    private async Task<SessionPair> OpenPairAsync(CancellationToken ct)
    {
        var source = await OpenSourceAsync(ct);
        try
        {
            return new SessionPair(source, await OpenAsync(options.Target, ct));
        }
        catch
        {
            await source.DisposeAsync();
            throw;
        }
    }

    private async Task<(long, long, ChunkDifference?)> CompareChunkAsync(NpgsqlConnection source, NpgsqlConnection target, VerifyTable t, long? from, long? to, CancellationToken ct)
    {
        (long Rows, decimal Hash) s = default, g = default;
        for (var attempt = 0; attempt <= options.Rechecks; attempt++)
        {
            var sourceRead = ChecksumAsync(source, t.Source, t.SourceColumns, t.IntegerKey, from, to, ct);
            var targetRead = ChecksumAsync(target, t.Target, t.TargetColumns, t.TargetIntegerKey, from, to, ct);
            s = await sourceRead;
            try
            {
                g = await targetRead;
            }
            catch (PostgresException pe) when (pe.SqlState is "42P01" or "42703")
            {
                // A table created on the source after the task started, or a column added since: not on the target.
                return (s.Rows, 0, new ChunkDifference("whole table", s.Rows, 0, [$"{(pe.SqlState == "42P01" ? "table" : "column")} missing on the target: {pe.MessageText}"]));
            }
            if (s == g)
            {
                return (s.Rows, g.Rows, null);
            }
            if (attempt < options.Rechecks)
            {
                await Task.Delay(options.RecheckDelay, ct);
            }
        }
        var range = t.IntegerKey is null ? "whole table" : $"{t.IntegerKey} in [{from?.ToString(CultureInfo.InvariantCulture) ?? "-inf"}, {to?.ToString(CultureInfo.InvariantCulture) ?? "+inf"})";
        var examples = t.IntegerKey is null ? [] : await ExampleKeysAsync(source, target, t, from, to, ct);
        return (s.Rows, g.Rows, new ChunkDifference(range, s.Rows, g.Rows, examples));
    }

    private static string RowText(IReadOnlyList<string> columns)
        => columns.Count == 0 ? "''" : $"ROW({string.Join(", ", columns.Select(Sql.Ident))})::text";

    private static string RangeWhere(string? key, long? from, long? to)
    {
        if (key is null)
        {
            return "";
        }
        var parts = new List<string>();
        if (from is { } f) parts.Add($"{Sql.Ident(key)} >= {f.ToString(CultureInfo.InvariantCulture)}");
        if (to is { } t) parts.Add($"{Sql.Ident(key)} < {t.ToString(CultureInfo.InvariantCulture)}");
        return parts.Count == 0 ? "" : " WHERE " + string.Join(" AND ", parts);
    }

    private async Task<(long Rows, decimal Hash)> ChecksumAsync(NpgsqlConnection conn, QualifiedName table, IReadOnlyList<string> columns, string? key,
        long? from, long? to, CancellationToken ct)
    {
        // A 64-bit hash of each row's text (PostgreSQL's own, as hash partitioning uses: the same on every major and
        // machine), summed: equal multisets of rows give equal sums, in any order.
        var hash = !legacyHash
            ? $"hashtextextended({RowText(columns)} COLLATE \"C\", 0)"
            : $"('x' || left(md5({RowText(columns)}), 16))::bit(64)::bigint";
        var sql = $"SELECT count(*), coalesce(sum({hash}), 0) FROM ONLY {table}{RangeWhere(key, from, to)}";
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return (rd.GetInt64(0), rd.GetDecimal(1));
    }

    /// <summary>Up to five keys whose rows differ, are missing on the target, or are extra there.</summary>
    private static async Task<List<string>> ExampleKeysAsync(NpgsqlConnection source, NpgsqlConnection target, VerifyTable t, long? from, long? to, CancellationToken ct)
    {
        async Task<Dictionary<long, string>> HashesAsync(NpgsqlConnection conn, QualifiedName table, IReadOnlyList<string> columns, string key)
        {
            var d = new Dictionary<long, string>();
            await using var cmd = new NpgsqlCommand($"SELECT {Sql.Ident(key)}::bigint, md5({RowText(columns)}) FROM ONLY {table}{RangeWhere(key, from, to)}", conn);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                d[rd.GetInt64(0)] = rd.GetString(1);
            }
            return d;
        }
        // Bounded by the chunk's size, which ChunkRows bounds.
        var s = await HashesAsync(source, t.Source, t.SourceColumns, t.IntegerKey!);
        var g = await HashesAsync(target, t.Target, t.TargetColumns, t.TargetIntegerKey!);
        var examples = new List<string>();
        foreach (var k in s.Keys.Union(g.Keys).Order())
        {
            var inSource = s.TryGetValue(k, out var sh);
            var inTarget = g.TryGetValue(k, out var gh);
            if (inSource && inTarget && sh == gh)
            {
                continue;
            }
            examples.Add($"{t.IntegerKey}={k} ({(!inTarget ? "missing on the target" : !inSource ? "extra on the target" : "differs")})");
            if (examples.Count == 5)
            {
                break;
            }
        }
        return examples;
    }

    /// <summary>A source session reading in the verify's snapshot, when there is one, for as long as it is open.</summary>
    private async Task<NpgsqlConnection> OpenSourceAsync(CancellationToken ct)
    {
        var conn = await OpenAsync(options.Source, ct);
        if (sourceSnapshot is not null)
        {
            await using var cmd = new NpgsqlCommand($"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {Sql.Literal(sourceSnapshot)}", conn);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return conn;
    }

    internal static async Task<NpgsqlConnection> OpenAsync(ConnectionSpec spec, CancellationToken ct)
    {
        var conn = await ConnectionOpener.OpenAsync(spec, "pgshift verify", ct);
        await using var cmd = new NpgsqlCommand(CanonicalSettings + "; SET default_transaction_read_only = on", conn);
        await cmd.ExecuteNonQueryAsync(ct);
        return conn;
    }
}
