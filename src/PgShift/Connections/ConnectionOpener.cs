using Npgsql;
using Npgsql.Replication;

namespace PgShift.Connections;

/// <summary>Opens a session to a server, turning a failure into one that says what went wrong and what to do.</summary>
public static class ConnectionOpener
{
    public static Task<NpgsqlConnection> OpenAsync(ConnectionSpec spec, string applicationName, CancellationToken ct,
        Action<NpgsqlConnectionStringBuilder>? configure = null)
        => OpenAsync(spec, new NpgsqlConnection(ConnectionString(spec, applicationName, configure)), (c, t) => c.OpenAsync(t), ct);

    /// <summary>Opens a logical replication session (a walsender), its failure said as <see cref="OpenAsync(ConnectionSpec, string, CancellationToken, Action{NpgsqlConnectionStringBuilder}?)"/> says it.</summary>
    public static Task<LogicalReplicationConnection> OpenReplicationAsync(ConnectionSpec spec, string applicationName, CancellationToken ct,
        Action<NpgsqlConnectionStringBuilder>? configure = null, TimeSpan? statusInterval = null)
    {
        var conn = new LogicalReplicationConnection(ConnectionString(spec, applicationName, configure));
        if (statusInterval is { } interval)
        {
            conn.WalReceiverStatusInterval = interval;
        }
        return OpenAsync(spec, conn, (c, t) => c.Open(t), ct);
    }

    private static string ConnectionString(ConnectionSpec spec, string applicationName, Action<NpgsqlConnectionStringBuilder>? configure)
    {
        var builder = new NpgsqlConnectionStringBuilder(spec.ToNpgsqlConnectionString(applicationName));
        configure?.Invoke(builder);
        return builder.ConnectionString;
    }

    private static async Task<T> OpenAsync<T>(ConnectionSpec spec, T conn, Func<T, CancellationToken, Task> open, CancellationToken ct)
        where T : IAsyncDisposable
    {
        try
        {
            await open(conn, ct);
            return conn;
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            await conn.DisposeAsync();
            throw new ConnectionFailedException(spec, ConnectionFailure.From(ex, spec), ex);
        }
    }

    /// <summary>Whether the connection still reaches its server (a restart of the server closes its sessions).</summary>
    public static async Task<bool> IsAliveAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        try
        {
            await using var ping = new NpgsqlCommand("SELECT 1", connection);
            await ping.ExecuteScalarAsync(ct);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}

/// <summary>A session to a server could not be opened; <see cref="Failure"/> says why, for a person.</summary>
public sealed class ConnectionFailedException(ConnectionSpec spec, ConnectionFailure failure, Exception inner)
    : PgShiftException($"Cannot connect to {spec}: {failure.Problem}", failure.Fix, inner)
{
    public ConnectionFailure Failure { get; } = failure;
}
