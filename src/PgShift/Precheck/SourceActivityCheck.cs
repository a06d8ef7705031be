using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.long_transactions, source.prepared_transactions: creating a logical slot waits for every
/// transaction that holds a transaction id to end.
/// </summary>
public sealed class SourceActivityCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var longOnes = await c.QuerySourceAsync(
            """
            SELECT pid, coalesce(usename::text, '?'), coalesce(datname::text, '?'),
                   extract(epoch FROM now() - xact_start)::bigint, coalesce(state, '?')
            FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND xact_start < now() - interval '1 minute'
            ORDER BY xact_start
            """,
            r => $"pid {r.GetInt32(0)} ({r.GetString(1)} on {r.GetString(2)}, {r.GetInt64(3)} s, {r.GetString(4)})", ct);
        results.Add(longOnes.Count == 0
            ? CheckResult.Pass("source.long_transactions", "No long-running write transaction on the source.")
            : CheckResult.Warn("source.long_transactions",
                $"{Plural.Of(longOnes.Count, "transaction")} {(longOnes.Count == 1 ? "has" : "have")} been open over a minute; creating the slot waits until they end: {NameList.Of(longOnes, 5)}.",
                "Let them finish, or end them with SELECT pg_terminate_backend(pid);"));
        if (c.Incremental)
        {
            var prepared = await c.QuerySourceAsync("SELECT gid, database::text FROM pg_prepared_xacts ORDER BY prepared",
                r => (Gid: r.GetString(0), Db: r.GetString(1)), ct);
            results.Add(prepared.Count == 0
                ? CheckResult.Pass("source.prepared_transactions", "No prepared transactions on the source.")
                : CheckResult.Fail("source.prepared_transactions",
                    $"{prepared.Count} prepared transactions would block creating the slot: {NameList.Of(prepared.Select(p => $"'{p.Gid}' in {p.Db}"))}.",
                    $"Finish them: COMMIT PREPARED '{prepared[0].Gid}'; or ROLLBACK PREPARED '{prepared[0].Gid}'; (in database {prepared[0].Db})."));
        }
        return results;
    }
}
