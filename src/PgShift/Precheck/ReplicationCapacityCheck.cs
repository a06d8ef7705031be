namespace PgShift.Precheck;

/// <summary>source.replication_slots, source.wal_senders, source.max_slot_wal_keep_size.</summary>
public sealed class ReplicationCapacityCheck : IPrecheck
{
    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var s = c.SourceFacts;
        var results = new List<CheckResult>();
        var need = c.SlotsNeeded;
        var freeSlots = s.MaxReplicationSlots - s.UsedReplicationSlots;
        results.Add(freeSlots >= need
            ? CheckResult.Pass("source.replication_slots", $"{freeSlots} of {s.MaxReplicationSlots} replication slots free; the task needs up to {need}.")
            : CheckResult.Fail("source.replication_slots", $"{freeSlots} of {s.MaxReplicationSlots} replication slots free; the task needs up to {need}.",
                $"Drop unused slots (SELECT slot_name, active FROM pg_replication_slots; SELECT pg_drop_replication_slot('name');) or raise max_replication_slots to at least {s.UsedReplicationSlots + need} and restart the source."));
        var freeSenders = s.MaxWalSenders - s.UsedWalSenders;
        results.Add(freeSenders >= need
            ? CheckResult.Pass("source.wal_senders", $"{freeSenders} of {s.MaxWalSenders} WAL senders free; the task needs up to {need}.")
            : CheckResult.Fail("source.wal_senders", $"{freeSenders} of {s.MaxWalSenders} WAL senders free; the task needs up to {need}.",
                $"Raise max_wal_senders to at least {s.UsedWalSenders + need} and restart the source, or stop other replication clients."));
        if (s.MaxSlotWalKeepSizeMb is { } keep)
        {
            var biggestMb = c.Tables.Count == 0 ? 0 : c.Tables.Sum(t => t.EstimatedBytes) / (1024 * 1024);
            if (keep == -1)
            {
                results.Add(CheckResult.Pass("source.max_slot_wal_keep_size", "max_slot_wal_keep_size = -1: the slot keeps the WAL it needs (watch the source's disk)."));
            }
            else if (keep < Math.Max(1024, biggestMb))
            {
                results.Add(CheckResult.Warn("source.max_slot_wal_keep_size",
                    $"max_slot_wal_keep_size = {keep} MB while the selected data is about {biggestMb} MB: writes during a long copy could make the source invalidate the slot, and the task would have to start over.",
                    "Raise max_slot_wal_keep_size (or set it to -1) for the time of the migration."));
            }
            else
            {
                results.Add(CheckResult.Pass("source.max_slot_wal_keep_size", $"max_slot_wal_keep_size = {keep} MB."));
            }
        }
        return Task.FromResult<IEnumerable<CheckResult>>(results);
    }
}
