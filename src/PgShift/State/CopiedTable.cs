using Npgsql;
using NpgsqlTypes;

namespace PgShift.State;

/// <summary>A table whose copy is done: the stream applies its changes from <paramref name="SyncLsn"/> on.</summary>
/// <param name="SourceTable">The source table, quoted and qualified, as the copy recorded it.</param>
/// <param name="StreamColumns">The columns the stream carries for it as at the copy ("name:type oid"); null when the copy recorded none.</param>
public sealed record CopiedTable(string SourceTable, NpgsqlLogSequenceNumber SyncLsn, IReadOnlyList<string>? StreamColumns)
{
    /// <summary>The task's tables whose copy is done.</summary>
    public static async Task<List<CopiedTable>> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        var copied = new List<CopiedTable>();
        await using var cmd = new NpgsqlCommand("SELECT source_table, sync_lsn, stream_columns FROM pgshift.copy_tables WHERE task = @t AND status = 'done'", target);
        cmd.Parameters.AddWithValue("t", task);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            copied.Add(new CopiedTable(rd.GetString(0), rd.GetFieldValue<NpgsqlLogSequenceNumber>(1), rd.IsDBNull(2) ? null : rd.GetFieldValue<string[]>(2)));
        }
        return copied;
    }
}
