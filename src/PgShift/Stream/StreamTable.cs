using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Selection;

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

    /// <summary>Reads the tables of a task from its copy state on the target and their columns from the source.</summary>
    public static async Task<Dictionary<QualifiedName, StreamTable>> LoadAsync(NpgsqlConnection source, NpgsqlConnection target, string task,
        NameMapping mapping, ColumnExclusions excluded, CancellationToken ct)
    {
        var synced = new List<(string Source, NpgsqlLogSequenceNumber Lsn, string[]? Columns)>();
        await using (var cmd = new NpgsqlCommand("SELECT source_table, sync_lsn, stream_columns FROM pgshift.copy_tables WHERE task = @t AND status = 'done'", target))
        {
            cmd.Parameters.AddWithValue("t", task);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                synced.Add((rd.GetString(0), rd.GetFieldValue<NpgsqlLogSequenceNumber>(1), rd.IsDBNull(2) ? null : rd.GetFieldValue<string[]>(2)));
            }
        }
        var result = new Dictionary<QualifiedName, StreamTable>();
        var generated = source.PostgreSqlVersion.Major >= 12 ? "AND a.attgenerated = ''" : "";
        foreach (var (sourceText, lsn, copiedColumns) in synced)
        {
            QualifiedName name = default;
            var columns = new List<(string, uint, bool)>();
            var unlogged = false;
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
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped {generated}
                JOIN pg_type t ON t.oid = a.atttypid
                WHERE c.oid = @rel::regclass
                ORDER BY a.attnum
                """, source);
            cmd.Parameters.AddWithValue("rel", sourceText);
            await using (var rd = await cmd.ExecuteReaderAsync(ct))
            {
                while (await rd.ReadAsync(ct))
                {
                    name = new QualifiedName(rd.GetString(0), rd.GetString(1));
                    unlogged = rd.GetBoolean(2);
                    columns.Add((rd.GetString(3), rd.GetFieldValue<uint>(4), rd.GetBoolean(5)));
                }
            }
            if (columns.Count == 0)
            {
                throw new PgShiftException($"The source table {sourceText} of task {task} no longer exists.",
                    "A table dropped on the source during the migration cannot be followed; cut over without it or start the task again.");
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
            result[name] = new StreamTable
            {
                Source = name,
                Target = mapping.MapTable(name),
                Columns = columns,
                TargetColumns = columns.Select(c => excluded.Excludes(name, c.Item1) ? null : mapping.MapColumn(name, c.Item1)).ToList(),
                SyncLsn = lsn,
                Unlogged = unlogged,
            };
        }
        return result;
    }
}
