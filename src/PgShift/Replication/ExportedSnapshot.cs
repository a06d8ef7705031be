using Npgsql;
using NpgsqlTypes;
using PgShift.Connections;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;

namespace PgShift.Replication;

/// <summary>
/// A source snapshot that copy workers import with SET TRANSACTION SNAPSHOT, and the WAL position it
/// corresponds to. The connection that exported it stays open, idle, until this is disposed: the snapshot
/// dies with that connection's next command.
/// </summary>
public sealed class ExportedSnapshot : IAsyncDisposable
{
    private readonly NpgsqlConnection? _connection;
    private readonly LogicalReplicationConnection? _replication;

    private ExportedSnapshot(string name, NpgsqlLogSequenceNumber lsn, NpgsqlConnection? connection, LogicalReplicationConnection? replication, string? slotName)
    {
        Name = name;
        Lsn = lsn;
        _connection = connection;
        _replication = replication;
        SlotName = slotName;
    }

    public string Name { get; }

    /// <summary>The slot's consistent point, or the WAL insert position when no slot is involved.</summary>
    public NpgsqlLogSequenceNumber Lsn { get; }

    /// <summary>The slot created with the snapshot; null for a plain exported transaction snapshot.</summary>
    public string? SlotName { get; }

    /// <summary>
    /// Creates a logical replication slot (pgoutput) over the replication protocol and exports its snapshot:
    /// the copy then holds exactly the changes before the slot's consistent point.
    /// </summary>
    public static async Task<ExportedSnapshot> FromNewSlotAsync(ConnectionSpec source, string slotName, bool temporary, CancellationToken ct)
    {
        var conn = await ConnectionOpener.OpenReplicationAsync(source, "pgshift snapshot", ct);
        try
        {
            var slot = await conn.CreatePgOutputReplicationSlot(slotName, temporary, LogicalSlotSnapshotInitMode.Export, cancellationToken: ct);
            return new ExportedSnapshot(slot.SnapshotName!, slot.ConsistentPoint, null, conn, slotName);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>A snapshot of a plain REPEATABLE READ transaction (pg_export_snapshot), which leaves nothing behind on the source.</summary>
    public static async Task<ExportedSnapshot> FromTransactionAsync(ConnectionSpec source, CancellationToken ct)
    {
        var conn = await ConnectionOpener.OpenAsync(source, "pgshift snapshot", ct);
        try
        {
            await using var cmd = new NpgsqlCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot(), pg_current_wal_lsn()", conn);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            var snapshot = new ExportedSnapshot(rd.GetString(0), rd.GetFieldValue<NpgsqlLogSequenceNumber>(1), conn, null, null);
            return snapshot;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>Begins a read-only REPEATABLE READ transaction on <paramref name="conn"/> that sees the exported snapshot <paramref name="name"/>.</summary>
    /// <exception cref="SnapshotLostException">The session that exported it is gone.</exception>
    public static async Task ImportAsync(NpgsqlConnection conn, string name, CancellationToken ct)
    {
        try
        {
            await using var cmd = new NpgsqlCommand($"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {Catalog.Sql.Literal(name)}", conn);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "22023")
        {
            // invalid_parameter_value on importing the snapshot: the session that exported it is gone.
            throw new SnapshotLostException(name, pe);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
        if (_replication is not null)
        {
            await _replication.DisposeAsync();
        }
    }
}

/// <summary>
/// A copy's snapshot is gone with the session that exported it (a source restart, a lost connection): the tables (and large objects) not
/// yet copied are copied again from a new snapshot.
/// </summary>
public sealed class SnapshotLostException(string snapshot, Exception inner)
    : PgShiftException($"The source snapshot {snapshot} the copy reads from is gone with the session that exported it.",
        "The copy takes a new snapshot by itself; nothing to do.", inner), Connections.ITransientFailure;
