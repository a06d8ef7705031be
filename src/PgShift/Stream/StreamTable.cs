using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Selection;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>A source table the stream applies changes to: its target, its columns as the source has them, and its sync LSN.</summary>
public sealed class StreamTable
{
    public required QualifiedName Source { get; init; }
    public required QualifiedName Target { get; init; }
    /// <summary>Source columns that pgoutput sends (not generated, not dropped), in order, with their type oids.</summary>
    public required IReadOnlyList<(string Name, uint TypeOid, bool HasEquality)> Columns { get; init; }
    /// <summary>Target column names, parallel to <see cref="Columns"/>; null for a column that is not migrated.</summary>
    public required IReadOnlyList<string?> TargetColumns { get; init; }
    /// <summary>Changes of transactions that committed before this position are already in the copy.</summary>
    public required NpgsqlLogSequenceNumber SyncLsn { get; init; }
    public bool Unlogged { get; init; }
    /// <summary>Target column types without modifiers (for casts of text values), parallel to <see cref="Columns"/>; null where not migrated.</summary>
    public IReadOnlyList<string?> TargetTypes { get; init; } = [];
    /// <summary>
    /// Whether the table's changes may be folded into set statements: nothing on the target fires for the apply
    /// session (no trigger, foreign-key check or rule, on the table or its partitions) and every column has a known type.
    /// </summary>
    public bool Foldable { get; init; }
    /// <summary>The table no longer exists on the source: only changes made before it was dropped arrive.</summary>
    public bool DroppedOnSource { get; init; }
    /// <summary>The target table is partitioned (its rows are in its partitions), not a table that may have inheritance children.</summary>
    public bool TargetPartitioned { get; init; }

    /// <summary>
    /// The target table as UPDATE and DELETE name it: with ONLY, so that rows of inheritance children, which have
    /// changes of their own, are never touched (ONLY on a partitioned table would touch no row at all).
    /// </summary>
    public string TargetOnly => TargetPartitioned ? Target.ToString() : "ONLY " + Target;

    /// <summary>Reads the tables of a task from its copy state on the target and their columns from the source.</summary>
    public static async Task<Dictionary<QualifiedName, StreamTable>> LoadAsync(NpgsqlConnection source, NpgsqlConnection target, string task,
        NameMapping mapping, ColumnExclusions excluded, CancellationToken ct)
    {
        var synced = await CopiedTable.LoadAsync(target, task, ct);
        var result = new Dictionary<QualifiedName, StreamTable>();
        foreach (var (sourceText, lsn, copiedColumns) in synced)
        {
            var (exists, name, unlogged, columns) = await ReadSourceAsync(source, sourceText, ct);
            var dropped = false;
            if (!exists)
            {
                if (copiedColumns is null)
                {
                    throw new PgShiftException($"The source table {sourceText} of task {task} no longer exists, and the task did not record its columns.",
                        "Start the task again: pgshift cleanup --purge, drop the migrated tables on the target, then pgshift migrate.");
                }
                // Dropped on the source (a retention job dropping an old partition, say): the changes made before the drop
                // still arrive, described by the columns recorded at the copy. Without the catalog, values are compared
                // by their text; the cutover says that the table stays on the target.
                dropped = true;
                var parts = QualifiedNameParser.Split(sourceText);
                name = new QualifiedName(parts[0], parts[1]);
            }
            if (copiedColumns is not null)
            {
                // The columns as the table had them when it was copied (the target has those), not as it has them now:
                // changes decoded from before a DDL carry the old shape, and the DDL itself must be noticed.
                var equality = columns.GroupBy(c => c.Item2).ToDictionary(g => g.Key, g => g.First().Item3);
                columns = copiedColumns.Select(c =>
                {
                    var colon = c.LastIndexOf(':');
                    var type = uint.Parse(c.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
                    return (c[..colon], type, equality.GetValueOrDefault(type));
                }).ToList();
            }
            result[name] = await BuildAsync(target, name, columns, lsn, unlogged, dropped, mapping, excluded, ct);
        }
        return result;
    }

    /// <summary>A task table as the stream applies to it, from its source columns (as pgoutput sends them) and the target's catalog.</summary>
    public static async Task<StreamTable> BuildAsync(NpgsqlConnection target, QualifiedName name, IReadOnlyList<(string Name, uint TypeOid, bool HasEquality)> columns,
        NpgsqlLogSequenceNumber syncLsn, bool unlogged, bool dropped, NameMapping mapping, ColumnExclusions excluded, CancellationToken ct)
    {
        var targetName = mapping.MapTable(name);
        var targetColumns = columns.Select(c => excluded.Excludes(name, c.Name) ? null : mapping.MapColumn(name, c.Name)).ToList();
        var (types, fires, partitioned) = await ReadTargetAsync(target, targetName, ct);
        var targetTypes = targetColumns.Select(c => c is null ? null : types.GetValueOrDefault(c)).ToList();
        return new StreamTable
        {
            Source = name,
            Target = targetName,
            Columns = columns,
            TargetColumns = targetColumns,
            SyncLsn = syncLsn,
            Unlogged = unlogged,
            TargetTypes = targetTypes,
            TargetPartitioned = partitioned,
            DroppedOnSource = dropped,
            Foldable = !fires && columns.Count <= 64 && targetColumns.Zip(targetTypes).All(c => c.First is null || c.Second is not null),
        };
    }

    /// <summary>The columns as the copy state records them (name:typeoid), for a table whose shape the stream changed.</summary>
    public IReadOnlyList<string> StreamColumnsText => Columns.Select(c => $"{c.Name}:{c.TypeOid}").ToList();

    /// <summary>The source table as the catalog has it now: its name, whether it is unlogged, its columns; exists is false once it was dropped.</summary>
    private static async Task<(bool Exists, QualifiedName Name, bool Unlogged, List<(string Name, uint TypeOid, bool HasEquality)> Columns)> ReadSourceAsync(
        NpgsqlConnection source, string sourceText, CancellationToken ct)
    {
        QualifiedName name = default;
        var columns = new List<(string Name, uint TypeOid, bool HasEquality)>();
        var unlogged = false;
        var exists = false;
        var generated = source.PostgreSqlVersion.Major >= 12 ? "AND a.attgenerated = ''" : "";
        await using var cmd = new NpgsqlCommand($"""
            SELECT n.nspname, c.relname, c.relpersistence = 'u', a.attname, a.atttypid,
                   -- Compared with = when the type has a default equality opclass; arrays and composites, json, xml,
                   -- point and the like by their text form.
                   t.typcategory <> 'A' AND t.typtype <> 'c' AND EXISTS (
                       SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                       WHERE oc.opcdefault AND am.amname IN ('btree', 'hash')
                         AND (oc.opcintype IN (a.atttypid, coalesce(nullif(t.typbasetype, 0), a.atttypid))
                              OR (oc.opcintype = 'anyenum'::regtype AND t.typtype = 'e')
                              OR (oc.opcintype = 'anyrange'::regtype AND t.typtype = 'r')))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            -- A table without columns (CREATE TABLE t ()) still exists: one row, with no column.
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped {generated}
            LEFT JOIN pg_type t ON t.oid = a.atttypid
            WHERE c.oid = to_regclass(@rel)
            ORDER BY a.attnum
            """, source);
        cmd.Parameters.AddWithValue("rel", sourceText);
        await using (var rd = await cmd.ExecuteReaderAsync(ct))
        {
            while (await rd.ReadAsync(ct))
            {
                exists = true;
                name = new QualifiedName(rd.GetString(0), rd.GetString(1));
                unlogged = rd.GetBoolean(2);
                if (!rd.IsDBNull(3))
                {
                    columns.Add((rd.GetString(3), rd.GetFieldValue<uint>(4), rd.GetBoolean(5)));
                }
            }
        }
        return (exists, name, unlogged, columns);
    }

    /// <summary>The target table's column types, and whether a trigger or rule on it (or its partitions) fires for this session.</summary>
    private static async Task<(Dictionary<string, string> Types, bool Fires, bool Partitioned)> ReadTargetAsync(NpgsqlConnection target, QualifiedName table, CancellationToken ct)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("""
            -- The type by its catalog name, quoted: format_type's "bit" or "character" would mean bit(1) and char(1),
            -- and a cast to those cuts values short.
            SELECT a.attname, quote_ident(n.nspname) || '.' || quote_ident(t.typname)
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE a.attrelid = @rel::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """, target))
        {
            cmd.Parameters.AddWithValue("rel", table.ToString());
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                types[rd.GetString(0)] = rd.GetString(1);
            }
        }
        await using (var cmd = new NpgsqlCommand("""
            WITH RECURSIVE tree(oid) AS (
                SELECT @rel::regclass::oid
                UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
            -- What fires for this session: ALWAYS, and ORIGIN or REPLICA as its session_replication_role says
            -- (foreign-key checks included, when the session could not be made a replica).
            , role(replica) AS (SELECT current_setting('session_replication_role') = 'replica')
            SELECT EXISTS (SELECT 1 FROM pg_trigger, role WHERE tgrelid IN (SELECT oid FROM tree)
                           AND (tgenabled = 'A' OR tgenabled = CASE WHEN replica THEN 'R' ELSE 'O' END))
                OR EXISTS (SELECT 1 FROM pg_rewrite, role WHERE ev_class IN (SELECT oid FROM tree) AND rulename <> '_RETURN'
                           AND (ev_enabled = 'A' OR ev_enabled = CASE WHEN replica THEN 'R' ELSE 'O' END)),
                (SELECT relkind = 'p' FROM pg_class WHERE oid = @rel::regclass)
            """, target))
        {
            cmd.Parameters.AddWithValue("rel", table.ToString());
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            return (types, rd.GetBoolean(0), rd.GetBoolean(1));
        }
    }
}
