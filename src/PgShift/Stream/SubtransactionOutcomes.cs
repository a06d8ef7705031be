using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Connections;

namespace PgShift.Stream;

/// <summary>
/// Asks the source's commit log which subtransactions of a streamed transaction were rolled back, at the transaction's
/// commit. The stream alone cannot be trusted with this: PostgreSQL (seen on 15 and 17) streams the changes of a
/// subtransaction and never sends its STREAM ABORT when its decoding restarted behind the slot's confirmed position
/// (after any reconnect) with the transaction still open: the changes decoded before that position are spilled to disk,
/// and a subtransaction whose changes were all restored from disk and streamed in one go is not marked as streamed, so
/// its ROLLBACK TO SAVEPOINT sends nothing. Applying those changes would write rows the source never kept.
/// The commit log answers for any transaction ID newer than the source's oldest kept one, which a transaction that
/// just committed always is.
/// </summary>
public sealed class SubtransactionOutcomes(ConnectionSpec source, ILogger logger) : IAsyncDisposable
{
    private NpgsqlConnection? _connection;

    /// <summary>Subtransactions the source found rolled back when their transaction had its commit decoded.</summary>
    public long RolledBackWithoutAbort { get; private set; }

    /// <summary>
    /// Of these 32-bit subtransaction IDs (of a transaction the source has committed), those that the source rolled back.
    /// </summary>
    public async Task<IReadOnlySet<uint>> AbortedAsync(uint transaction, IReadOnlyCollection<uint> subtransactions, CancellationToken ct)
    {
        if (subtransactions.Count == 0)
        {
            return new HashSet<uint>();
        }
        _connection ??= await ConnectionOpener.OpenAsync(source, "pgshift stream xact status", ct);
        // A 32-bit ID belongs to the newest epoch in which it is not in the future (the source's next full ID, from a
        // snapshot, which assigns no ID of its own).
        await using var cmd = new NpgsqlCommand("""
            WITH n AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next)
            SELECT x, pg_xact_status(full_id::text::xid8)
            FROM n, unnest(@x::bigint[]) AS x,
                 LATERAL (SELECT CASE WHEN ((next >> 32) << 32) + x < next THEN ((next >> 32) << 32) + x
                                      ELSE ((next >> 32) << 32) + x - 4294967296 END AS full_id) f
            WHERE full_id > 0
            """, _connection);
        cmd.Parameters.AddWithValue("x", subtransactions.Select(x => (long)x).ToArray());
        var aborted = new HashSet<uint>();
        var answered = 0;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var status = reader.IsDBNull(1) ? null : reader.GetString(1);
                if (status is null)
                {
                    continue;
                }
                answered++;
                if (status == "aborted")
                {
                    aborted.Add((uint)reader.GetInt64(0));
                }
            }
        }
        if (answered < subtransactions.Count)
        {
            throw new PgShiftException(
                $"The source no longer knows whether {subtransactions.Count - answered} subtransaction(s) of a large transaction it streamed were rolled back (their IDs are older than its commit log).",
                "This should not happen within a running migration; restart the task so that the source decodes the transaction again, and report it as a bug with the source's version.");
        }
        if (aborted.Count > 0)
        {
            RolledBackWithoutAbort += aborted.Count;
            logger.LogWarning("The source streamed changes of {Count} rolled-back subtransaction(s) of transaction {Xid} without saying they were rolled back; they are left out",
                aborted.Count, transaction);
        }
        return aborted;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }
}
