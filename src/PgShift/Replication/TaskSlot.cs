using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Replication;

/// <summary>The task's replication slot and publication on the source: created once, at the task's first copy, and checked by every stream session.</summary>
public static class TaskSlot
{
    /// <summary>
    /// The publication first (pgoutput reads publications as of each change), then the slot with an exported
    /// snapshot, whose consistent point is recorded in the task state. A slot recorded but gone is an error:
    /// recreating it would lose the changes in between.
    /// </summary>
    /// <param name="tableOids">The source tables the task moves, checked for a replica identity.</param>
    /// <param name="published">The tables to publish: leaf tables, not partitioned parents (sources before 13 cannot publish those), not unlogged ones.</param>
    /// <param name="needSnapshot">Keep the new slot's snapshot open for the copy (else it is released at once).</param>
    /// <returns>The slot's consistent point, and its snapshot when it was created now and <paramref name="needSnapshot"/>; the caller disposes it.</returns>
    public static async Task<(NpgsqlLogSequenceNumber ConsistentLsn, ExportedSnapshot? Snapshot)> EnsureAsync(ConnectionSpec sourceSpec, NpgsqlConnection target,
        string task, IReadOnlyCollection<uint> tableOids, IReadOnlyCollection<QualifiedName> published, bool needSnapshot, ILogger logger, CancellationToken ct,
        bool captureSchemaChanges = false)
    {
        var slotName = TaskName.SlotName(task);
        var publication = TaskName.PublicationName(task);
        var recorded = await SlotRecord.ConsistentLsnAsync(target, task, ct);
        await using var source = await ConnectionOpener.OpenAsync(sourceSpec, "pgshift copy", ct);
        bool slotExists, slotActive;
        await using (var cmd = new NpgsqlCommand("SELECT count(*) > 0, coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = @s", source))
        {
            cmd.Parameters.AddWithValue("s", slotName);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            (slotExists, slotActive) = (rd.GetBoolean(0), rd.GetBoolean(1));
        }
        if (recorded is { } r)
        {
            if (!slotExists)
            {
                throw new PgShiftException($"The replication slot {slotName} of task {task} no longer exists on the source (it was dropped, or lost in a failover); changes since {r} are gone.",
                    $"Start the task again from scratch: pgshift cleanup --purge, drop the migrated tables on the target, then pgshift migrate. PgShift never recreates the slot silently, which would lose changes.");
            }
            return (r, null);
        }
        if (slotExists && !slotActive && await SlotRecord.CreationInterruptedAsync(target, task, ct))
        {
            // This task began creating the slot and was stopped (killed, a server restarted) before it could record it:
            // nothing was copied from its snapshot and nothing read from it, so a new one replaces it.
            logger.LogWarning("The slot {Slot} was left by an interrupted start of task {Task}, before it was recorded; it is dropped and created again", slotName, task);
            await using var drop = new NpgsqlCommand("SELECT pg_drop_replication_slot(@s)", source);
            drop.Parameters.AddWithValue("s", slotName);
            await drop.ExecuteNonQueryAsync(ct);
            slotExists = false;
        }
        if (slotExists)
        {
            throw new PgShiftException($"A replication slot named {slotName} already exists on the source, but task {task} has no record of it on this target.",
                $"Drop it if it is left over (SELECT pg_drop_replication_slot('{slotName}');), or choose another --task name.");
        }
        await CheckReplicaIdentityAsync(source, tableOids, ct);
        if (captureSchemaChanges)
        {
            // Before the publication that carries its rows, and before the slot: no statement after the slot's point goes unseen.
            var (possible, whyNot) = await SchemaCapture.PossibleAsync(source, ct);
            if (possible)
            {
                await SchemaCapture.InstallAsync(source, task, ct);
                published = [.. published, SchemaCapture.ChangeTableName(task)];
            }
            else
            {
                logger.LogWarning("Schema changes on the source will not be followed by task {Task}: {Reason}. A column change on the source will stop the task", task, whyNot);
            }
        }
        var forTables = published.Count == 0 ? "" : $" FOR TABLE {string.Join(", ", published)}";
        await using (var pub = new NpgsqlCommand($"DROP PUBLICATION IF EXISTS {Sql.Ident(publication)}; CREATE PUBLICATION {Sql.Ident(publication)}{forTables}", source))
        {
            await pub.ExecuteNonQueryAsync(ct);
        }
        // Said before the slot exists, so that a start interrupted before the slot is recorded can tell its own slot.
        await SlotRecord.MarkCreatingAsync(target, task, sourceSpec.ToString(), ct);
        var snapshot = await ExportedSnapshot.FromNewSlotAsync(sourceSpec, slotName, temporary: false, ct);
        try
        {
            await SlotRecord.RecordAsync(target, task, sourceSpec.ToString(), slotName, snapshot.Lsn, ct);
        }
        catch
        {
            await snapshot.DisposeAsync();
            throw;
        }
        if (needSnapshot)
        {
            return (snapshot.Lsn, snapshot);
        }
        await snapshot.DisposeAsync();
        return (snapshot.Lsn, null);
    }

    /// <summary>A table without a usable replica identity in a publication makes the source refuse its UPDATEs and DELETEs.</summary>
    private static async Task CheckReplicaIdentityAsync(NpgsqlConnection source, IReadOnlyCollection<uint> tableOids, CancellationToken ct)
    {
        var noIdentity = new List<string>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY(@oids) AND c.relpersistence <> 'u'
              AND (c.relreplident = 'n' OR c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
            ORDER BY 1
            """, source))
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlDbType.Array | NpgsqlDbType.Oid) { Value = tableOids.ToArray() });
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                noIdentity.Add(rd.GetString(0));
            }
        }
        if (noIdentity.Count > 0)
        {
            throw new PgShiftException(
                $"{noIdentity.Count} table(s) have no primary key or replica identity, so their UPDATEs and DELETEs cannot be streamed (and the source would refuse them once published): {string.Join(", ", noIdentity.Take(10))}.",
                $"Give each a primary key, or run ALTER TABLE {noIdentity[0]} REPLICA IDENTITY FULL; (and so on), or exclude them; 'pgshift precheck' lists them all.");
        }
    }

    /// <summary>Checks, before a stream session, that the task's slot still exists and that the source has kept its WAL.</summary>
    public static async Task CheckAsync(NpgsqlConnection source, string slotName, CancellationToken ct)
    {
        var walStatus = source.PostgreSqlVersion.Major >= 13 ? "wal_status" : "'reserved'";
        await using var cmd = new NpgsqlCommand($"SELECT {walStatus} FROM pg_replication_slots WHERE slot_name = @s", source);
        cmd.Parameters.AddWithValue("s", slotName);
        var status = await cmd.ExecuteScalarAsync(ct);
        if (status is null)
        {
            throw new PgShiftException($"The replication slot {slotName} no longer exists on the source (dropped, or lost in a failover); the changes it held are gone.",
                "Start the task again from scratch: pgshift cleanup --purge, drop the migrated tables on the target, then pgshift migrate. PgShift never recreates a slot silently, which would lose changes.");
        }
        if (status is "lost")
        {
            throw new PgShiftException($"The source invalidated the replication slot {slotName} (max_slot_wal_keep_size was exceeded): the WAL it needed is gone.",
                "Raise max_slot_wal_keep_size (or set it to -1), then start the task again from scratch: pgshift cleanup --purge, drop the migrated tables on the target, then pgshift migrate.");
        }
    }
}
