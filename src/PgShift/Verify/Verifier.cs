using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Progress;
using PgShift.Selection;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Verify;

/// <summary>
/// pgshift verify: every selected table compared row for row by checksum, the keys, indexes and triggers
/// compared by name, and the sequences and large objects once the task has finished.
/// </summary>
public sealed class Verifier
{
    public async Task<VerifyReport> VerifyAsync(VerifyOptions options, CancellationToken ct)
    {
        var started = DateTime.UtcNow;
        var (tables, sourceObjects, sequences) = await ReadSourceAsync(options, ct);
        // One session on the target serves the whole verify: the stream's hold, the task's phase, objects and sequences.
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift verify", ct);
        var verified = await VerifyTablesAsync(options, target, tables, ct);
        // A table that differs is checked again, from a new snapshot and hold, before it is reported.
        for (var round = 0; round < 2 && verified.Any(v => !v.Equal); round++)
        {
            var again = tables.Where(t => verified.Any(v => !v.Equal && v.Table == t.Source.ToString())).ToList();
            var rechecked = (await VerifyTablesAsync(options, target, again, ct)).ToDictionary(v => v.Table, StringComparer.Ordinal);
            verified = verified.Select(v => rechecked.GetValueOrDefault(v.Table) ?? v).ToList();
        }
        var targetObjects = await ObjectsAsync(target, tables.Select(t => (t.Target, t.Target)).ToList(), mapToTarget: false, ct);
        var finished = (await TaskStatusReport.LoadAsync(target, options.TaskName, ct))?.Phase is null or TaskPhase.Finished;
        var sequenceResults = await VerifySequencesAsync(options, target, sequences, finished, ct);
        var largeObjects = options.LargeObjects ? await LargeObjectVerifier.VerifyAsync(options, finished, ct) : null;
        var configTables = await ExtensionConfigVerifier.VerifyAsync(options, finished, ct);
        var missing = sourceObjects.Except(targetObjects, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var extra = targetObjects.Except(sourceObjects, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new VerifyReport(verified, missing, extra, sequenceResults, (DateTime.UtcNow - started).TotalSeconds, largeObjects, configTables);
    }

    /// <summary>The selected tables as verify reads them, their keys, indexes and triggers, and the sequences that go with them.</summary>
    private static async Task<(List<VerifyTable> Tables, List<string> Objects, List<(QualifiedName, QualifiedName?, string?)> Sequences)> ReadSourceAsync(
        VerifyOptions options, CancellationToken ct)
    {
        await using var source = await TableVerifier.OpenAsync(options.Source, ct);
        var selected = await SelectedTables.LoadAsync(source, options.Selection, ct);
        var tables = await LoadTablesAsync(source, selected.Tables.Keys.ToArray(), options, ct);
        var objects = await ObjectsAsync(source, tables.Select(t => (t.Source, t.Target)).ToList(), mapToTarget: true, ct);
        var sequences = await SequencesAsync(source, selected.Tables.Keys.ToArray(), ct);
        return (tables, objects, sequences);
    }

    /// <summary>Each sequence's value on both sides, read after the tables; one behind on the target differs only once the task has finished.</summary>
    private static async Task<List<SequenceVerification>> VerifySequencesAsync(VerifyOptions options, NpgsqlConnection target,
        List<(QualifiedName Sequence, QualifiedName? OwnerTable, string? OwnerColumn)> sequences, bool finished, CancellationToken ct)
    {
        var results = new List<SequenceVerification>();
        await using var source = await TableVerifier.OpenAsync(options.Source, ct);
        foreach (var (seq, ownerTable, ownerColumn) in sequences)
        {
            var (sourceValue, sourceCalled) = await SequenceValueAsync(source, seq.Quoted, ct);
            var targetName = ownerTable is { } owner
                ? await ScalarTextAsync(target, "SELECT pg_get_serial_sequence(@t, @c)", ct, ("t", options.Mapping.MapTable(owner).Quoted), ("c", options.Mapping.MapColumn(owner, ownerColumn!)))
                : new QualifiedName(options.Mapping.MapSchema(seq.Schema), seq.Name).Quoted;
            var (targetValue, targetCalled) = targetName is null ? (null, null) : await SequenceValueAsync(target, targetName, ct);
            var state = targetValue is null ? "missing on the target"
                : targetValue == sourceValue && targetCalled == sourceCalled ? "equal"
                : finished ? "differs" : "not synced yet";
            results.Add(new SequenceVerification(seq.ToString(), sourceValue, targetValue, state));
        }
        return results;
    }

    /// <summary>
    /// The source is read in one snapshot. When the task's change stream runs, the snapshot comes from a temporary
    /// slot whose consistent point is exact, and the stream is held at that point (it applies every transaction
    /// committed before it, none after) while the target is read: both sides then show the same source position.
    /// </summary>
    private static async Task<List<TableVerification>> VerifyTablesAsync(VerifyOptions options, NpgsqlConnection target, List<VerifyTable> tables, CancellationToken ct)
    {
        var targetMajor = target.PostgreSqlVersion.Major;
        var streaming = await TaskLock.IsHeldAsync(target, options.TaskName, ct);
        if (!streaming)
        {
            await using var plain = await Replication.ExportedSnapshot.FromTransactionAsync(options.Source, ct);
            return await new TableVerifier(options, targetMajor, plain.Name).VerifyAsync(tables, ct);
        }
        try
        {
            // First pause the stream at its next transaction boundary, then take the snapshot (its point lies after
            // everything applied), then let the stream apply exactly up to that point.
            await HoldAsync(target, options, VerifyHold.PauseEverything, ct);
            var slot = Settings.TaskName.TemporarySlotName(options.TaskName, "verify");
            await using var snapshot = await Replication.ExportedSnapshot.FromNewSlotAsync(options.Source, slot, temporary: true, ct);
            await HoldAsync(target, options, snapshot.Lsn, ct);
            return await new TableVerifier(options, targetMajor, snapshot.Name).VerifyAsync(tables, ct);
        }
        finally
        {
            await VerifyHold.SetAsync(target, options.TaskName, null, CancellationToken.None);
        }
    }

    private static async Task HoldAsync(NpgsqlConnection target, VerifyOptions options, NpgsqlTypes.NpgsqlLogSequenceNumber lsn, CancellationToken ct)
    {
        await VerifyHold.SetAsync(target, options.TaskName, lsn, ct);
        var deadline = DateTime.UtcNow + options.HoldTimeout;
        while (!await VerifyHold.IsHeldAtAsync(target, options.TaskName, lsn, ct))
        {
            if (DateTime.UtcNow > deadline || !await TaskLock.IsHeldAsync(target, options.TaskName, ct))
            {
                throw new PgShiftException($"The change stream of task {options.TaskName} did not reach the verify's source position {lsn}.",
                    "Check 'pgshift status' (is it delayed, or retrying?) and run verify again.");
            }
            await Task.Delay(50, ct);
        }
    }

    private static async Task<List<VerifyTable>> LoadTablesAsync(NpgsqlConnection source, uint[] oids, VerifyOptions options, CancellationToken ct)
    {
        var columns = new Dictionary<uint, List<string>>();
        var names = new Dictionary<uint, (QualifiedName Name, long Rows, string? Key)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT c.oid, n.nspname, c.relname, greatest(c.reltuples, 0)::bigint,
                   (SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                     WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY(@oids) AND c.relkind = 'r'
            """, source))
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid) { Value = oids });
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                names[rd.GetFieldValue<uint>(0)] = (new QualifiedName(rd.GetString(1), rd.GetString(2)), rd.GetInt64(3), rd.IsDBNull(4) ? null : rd.GetString(4));
            }
        }
        await using (var cmd = new NpgsqlCommand("SELECT attrelid, attname FROM pg_attribute WHERE attrelid = ANY(@oids) AND attnum > 0 AND NOT attisdropped ORDER BY attrelid, attnum", source))
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid) { Value = names.Keys.ToArray() });
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                var rel = rd.GetFieldValue<uint>(0);
                if (!columns.TryGetValue(rel, out var list))
                {
                    columns[rel] = list = new();
                }
                list.Add(rd.GetString(1));
            }
        }
        return names.Select(kv =>
        {
            var (name, rows, key) = kv.Value;
            var cols = (columns.GetValueOrDefault(kv.Key) ?? []).Where(c => !options.ExcludedColumns.Excludes(name, c)).ToList();
            return new VerifyTable(name, options.Mapping.MapTable(name), cols, cols.Select(c => options.Mapping.MapColumn(name, c)).ToList(),
                key, key is null ? null : options.Mapping.MapColumn(name, key), rows);
        }).ToList();
    }

    /// <summary>Keys, indexes and triggers of the tables, by target table and name; objects PostgreSQL clones onto partitions are left out.</summary>
    private static async Task<List<string>> ObjectsAsync(NpgsqlConnection conn, List<(QualifiedName Table, QualifiedName Target)> tables, bool mapToTarget, CancellationToken ct)
    {
        var major = conn.PostgreSqlVersion.Major;
        var triggerNotCloned = major >= 13 ? "AND t.tgparentid = 0" : "";
        var constraintNotCloned = major >= 11 ? "AND con.conparentid = 0" : "";
        var result = new List<string>();
        foreach (var (table, target) in tables)
        {
            await using var cmd = new NpgsqlCommand($"""
                SELECT 'constraint ' || con.contype::text || ' ' || con.conname FROM pg_constraint con
                 WHERE con.conrelid = @t::regclass AND con.contype IN ('p', 'u', 'x', 'f', 'c') AND con.conislocal {constraintNotCloned}
                UNION ALL
                SELECT 'index ' || ic.relname || CASE WHEN i.indisunique THEN ' unique' ELSE '' END FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = @t::regclass AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                UNION ALL
                SELECT 'trigger ' || t.tgname || ' ' || t.tgenabled::text FROM pg_trigger t WHERE t.tgrelid = @t::regclass AND NOT t.tgisinternal {triggerNotCloned}
                """, conn);
            cmd.Parameters.AddWithValue("t", table.Quoted);
            try
            {
                await using var rd = await cmd.ExecuteReaderAsync(ct);
                // The table itself is an object too: missing on one side, it is missing (or extra) as a whole.
                result.Add($"{(mapToTarget ? target : table)}: table");
                while (await rd.ReadAsync(ct))
                {
                    result.Add($"{(mapToTarget ? target : table)}: {rd.GetString(0)}");
                }
            }
            catch (PostgresException pe) when (pe.SqlState == "42P01")
            {
                // Not on this side: the other side's "table" entry shows it as missing here.
            }
        }
        return result;
    }

    private static async Task<List<(QualifiedName, QualifiedName?, string?)>> SequencesAsync(NpgsqlConnection source, uint[] tables, CancellationToken ct)
        => (await SequenceOwner.ReadAsync(source, ct))
            .Where(q => q.OwnerOid is { } owner ? tables.Contains(owner) : q.Sequence.Schema != TableSelectionSchemaName)
            .Select(q => (q.Sequence, q.OwnerTable, q.OwnerColumn)).ToList();

    private const string TableSelectionSchemaName = Selection.TableSelection.StateSchemaName;

    /// <summary>last_value and is_called: a sequence set back with setval(..., false) differs in the second only.</summary>
    private static async Task<(long?, bool?)> SequenceValueAsync(NpgsqlConnection conn, string sequence, CancellationToken ct)
    {
        try
        {
            await using var cmd = new NpgsqlCommand($"SELECT last_value, is_called FROM {sequence}", conn);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            return await rd.ReadAsync(ct) ? (rd.GetInt64(0), rd.GetBoolean(1)) : (null, null);
        }
        catch (PostgresException pe) when (pe.SqlState == "42P01")
        {
            return (null, null);
        }
    }

    private static async Task<string?> ScalarTextAsync(NpgsqlConnection conn, string sql, CancellationToken ct, params (string Name, string Value)[] parameters)
    {
        try
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            foreach (var (name, value) in parameters)
            {
                cmd.Parameters.AddWithValue(name, value);
            }
            return await cmd.ExecuteScalarAsync(ct) as string;
        }
        catch (PostgresException pe) when (pe.SqlState is "42P01" or "42703")
        {
            return null;
        }
    }
}
