using Npgsql;
using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// Sets each migrated sequence on the target to the source's current value: standalone sequences,
/// serial sequences and identity columns' sequences of the selected tables.
/// </summary>
public static class SequenceSync
{
    public static async Task<int> SyncAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyDictionary<uint, QualifiedName> tables,
        IReadOnlyList<SchemaObject> objects, NameMapping mapping, CancellationToken ct)
    {
        var sequences = new List<(QualifiedName Source, QualifiedName? OwnerTable, string? OwnerColumn)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT n.nspname, s.relname, tn.nspname, t.relname, a.attname, t.oid
            FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
            LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
            LEFT JOIN pg_class t ON t.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE s.relkind = 'S'
            """, source))
        await using (var rd = await cmd.ExecuteReaderAsync(ct))
        {
            var standalone = objects.Where(o => o.Kind == ObjectKind.Sequence).Select(o => new QualifiedName(o.Schema, o.Name)).ToHashSet();
            while (await rd.ReadAsync(ct))
            {
                var seq = new QualifiedName(rd.GetString(0), rd.GetString(1));
                if (!rd.IsDBNull(5) && tables.ContainsKey(rd.GetFieldValue<uint>(5)))
                {
                    sequences.Add((seq, new QualifiedName(rd.GetString(2), rd.GetString(3)), rd.GetString(4)));
                }
                else if (standalone.Contains(seq))
                {
                    sequences.Add((seq, null, null));
                }
            }
        }
        foreach (var (seq, ownerTable, ownerColumn) in sequences)
        {
            long lastValue;
            bool isCalled;
            await using (var read = new NpgsqlCommand($"SELECT last_value, is_called FROM {seq}", source))
            await using (var rd = await read.ExecuteReaderAsync(ct))
            {
                await rd.ReadAsync(ct);
                lastValue = rd.GetInt64(0);
                isCalled = rd.GetBoolean(1);
            }
            // The target's sequence is found through its owning column, whatever renaming did to either.
            var sql = ownerTable is { } t
                ? "SELECT setval(pg_get_serial_sequence(@table, @column), @v, @called)"
                : "SELECT setval(@seq::regclass, @v, @called)";
            await using var set = new NpgsqlCommand(sql, target);
            if (ownerTable is { } owner)
            {
                set.Parameters.AddWithValue("table", mapping.MapTable(owner).Quoted);
                set.Parameters.AddWithValue("column", mapping.MapColumn(owner, ownerColumn!));
            }
            else
            {
                set.Parameters.AddWithValue("seq", new QualifiedName(mapping.MapSchema(seq.Schema), seq.Name).Quoted);
            }
            set.Parameters.AddWithValue("v", lastValue);
            set.Parameters.AddWithValue("called", isCalled);
            await set.ExecuteNonQueryAsync(ct);
        }
        return sequences.Count;
    }
}
