using Npgsql;
using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// way_back: what the way back (<c>cutover --reverse</c>, then <c>migrate --reverse</c>) needs. The target becomes a source:
/// wal_level = logical, a free slot and WAL sender, and a role that may replicate. The reverse stream inserts rows into the
/// source without the excluded columns, so each must accept that: nullable, or with a default.
/// </summary>
public sealed class WayBackCheck : IPrecheck
{
    public const string Id = "way_back";

    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!c.WayBack)
        {
            return [CheckResult.Pass(Id, "The cutover prepares no way back (cutover --reverse, or reverse: true in the task file, would).")];
        }
        var results = new List<CheckResult>();
        var t = c.TargetFacts;
        if (t.WalLevel != "logical")
        {
            results.Add(CheckResult.Fail(Id, $"The target has wal_level = {t.WalLevel}; the way back streams from it and needs logical.",
                "Set wal_level = logical on the target and restart it (ALTER SYSTEM SET wal_level = logical;), before the cutover."));
        }
        if (!(t.IsSuperuser || t.HasReplication || t.IsRdsReplication))
        {
            results.Add(CheckResult.Fail(Id, $"The target role {t.CurrentUser} may not create a replication slot, which the way back needs on the target.",
                $"ALTER ROLE {Sql.Ident(t.CurrentUser)} REPLICATION; on the target (on Amazon RDS: GRANT rds_replication TO it), or run the cutover as a role that has it."));
        }
        if (t.MaxReplicationSlots - t.UsedReplicationSlots < 1 || t.MaxWalSenders - t.UsedWalSenders < 1)
        {
            results.Add(CheckResult.Fail(Id, $"The target has no free replication slot or WAL sender ({t.UsedReplicationSlots}/{t.MaxReplicationSlots} slots, {t.UsedWalSenders}/{t.MaxWalSenders} senders in use).",
                "Raise max_replication_slots and max_wal_senders on the target (a restart), or drop slots it no longer needs."));
        }
        var refused = new List<string>();
        var excluded = c.ExcludedColumns.All.ToList();
        if (excluded.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                SELECT e.ord FROM unnest(@tables, @columns) WITH ORDINALITY e(tbl, col, ord)
                JOIN pg_attribute a ON a.attrelid = to_regclass(e.tbl) AND a.attname = e.col AND NOT a.attisdropped
                WHERE a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' ORDER BY e.ord
                """, c.Source);
            cmd.Parameters.AddWithValue("tables", excluded.Select(e => e.Table.Quoted).ToArray());
            cmd.Parameters.AddWithValue("columns", excluded.Select(e => e.ColumnName).ToArray());
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                var (table, column) = excluded[(int)rd.GetInt64(0) - 1];
                refused.Add($"{table}.{Sql.Ident(column)}");
            }
        }
        if (refused.Count > 0)
        {
            results.Add(CheckResult.Fail(Id,
                $"Excluded column(s) {NameList.Of(refused)} are NOT NULL without a default on the source: rows inserted on the target after the cutover cannot go back without them.",
                $"Give each a default on the source (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...) or drop its NOT NULL before the cutover, or migrate the column too."));
        }
        if (results.Count == 0)
        {
            results.Add(CheckResult.Pass(Id, "The target can be the way back's source, and the source accepts rows without the excluded columns."));
        }
        return results;
    }
}
