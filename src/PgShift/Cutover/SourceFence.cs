using Npgsql;
using PgShift.Connections;

namespace PgShift.Cutover;

/// <summary>
/// The fence of a cutover (on the source) or of a fallback (on the target): the database made read-only for new transactions,
/// its other sessions ended. PgShift's own sessions that must write there go through it (<see cref="ConnectionSpec.ThroughFence"/>).
/// </summary>
public static class SourceFence
{
    /// <summary>
    /// Fences the source database for the cutover: new transactions in it are read-only, and the sessions connected to it
    /// (other than PgShift's own) are ended, so no write can come in after the stream has caught up.
    /// </summary>
    /// <returns>How many sessions were ended.</returns>
    public static async Task<int> FenceAsync(ConnectionSpec source, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(source, "pgshift cutover fence", ct);
        try
        {
            await AlterDatabaseAsync(conn, "SET default_transaction_read_only = on", ct);
        }
        catch (PostgresException pe) when (pe.SqlState == "42501")
        {
            throw new PgShiftException($"Cannot fence the source database: {pe.MessageText}.",
                "Run the cutover with the database's owner or a superuser, or stop the application's writes yourself and cut over without --fence.");
        }
        await using var end = new NpgsqlCommand("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND coalesce(application_name, '') NOT LIKE 'pgshift%'
            """, conn);
        return (int)(long)(await end.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Lifts the fence of <see cref="FenceAsync"/>.</summary>
    public static async Task UnfenceAsync(ConnectionSpec source, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(source.ThroughFence(), "pgshift cutover fence", ct);
        await AlterDatabaseAsync(conn, "RESET default_transaction_read_only", ct);
    }

    /// <summary>ALTER DATABASE on the connection's own database, whose name the server quotes.</summary>
    private static async Task AlterDatabaseAsync(NpgsqlConnection conn, string change, CancellationToken ct)
    {
        await using var name = new NpgsqlCommand("SELECT quote_ident(current_database())", conn);
        await using var alter = new NpgsqlCommand($"ALTER DATABASE {(string)(await name.ExecuteScalarAsync(ct))!} {change}", conn);
        await alter.ExecuteNonQueryAsync(ct);
    }
}
