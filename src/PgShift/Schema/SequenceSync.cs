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
    /// <param name="standalone">The sequences owned by no column that move (those of the selected schemas).</param>
    /// <param name="warnings">Gets a line for each sequence that is not on the target (created on the source after the task started).</param>
    public static async Task<int> SyncAsync(NpgsqlConnection source, NpgsqlConnection target, IReadOnlyDictionary<uint, QualifiedName> tables,
        IReadOnlySet<QualifiedName> standalone, NameMapping mapping, List<string> warnings, CancellationToken ct)
    {
        var sequences = (await SequenceOwner.ReadAsync(source, ct))
            .Where(q => q.OwnerOid is { } owner ? tables.ContainsKey(owner) : standalone.Contains(q.Sequence))
            .Select(q => (q.Sequence, q.OwnerTable, q.OwnerColumn)).ToList();
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
                : "SELECT setval(to_regclass(@seq), @v, @called)";
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
            if (await set.ExecuteScalarAsync(ct) is DBNull)
            {
                warnings.Add($"Sequence {seq} is not on the target (created on the source after the task started): create it there and set it with setval(..., {lastValue}, {(isCalled ? "true" : "false")}).");
            }
        }
        return sequences.Count;
    }
}
