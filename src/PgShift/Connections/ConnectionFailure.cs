using System.Net.Sockets;
using Npgsql;

namespace PgShift.Connections;

/// <summary>What went wrong reaching a server, said for a person, with whether waiting can fix it.</summary>
public sealed record ConnectionFailure(bool IsTransient, string Problem, string Fix)
{
    /// <summary>Says what went wrong opening or using a connection to <paramref name="spec"/>; whether waiting fixes it is <see cref="Transience"/>'s answer.</summary>
    public static ConnectionFailure From(Exception ex, ConnectionSpec spec) => Describe(ex, spec) with { IsTransient = Transience.IsTransient(ex) };

    private static ConnectionFailure Describe(Exception ex, ConnectionSpec spec)
    {
        var where = spec.ToString();
        switch (FindPostgresException(ex))
        {
            case { SqlState: "28P01" }:
                return new(false, $"Password authentication failed for user \"{spec.User}\" ({where}).",
                    "Check the password in the connection string, PGPASSWORD or ~/.pgpass.");
            case { SqlState: "28000" } pe:
                return new(false, $"The server rejected user \"{spec.User}\" ({where}): {Redactor.Redact(pe.MessageText)}.",
                    "Add a pg_hba.conf entry for this user and client address, or use a role that is allowed to connect (with sslmode=require if the server only accepts TLS).");
            case { SqlState: "3D000" }:
                return new(false, $"Database \"{spec.Database}\" does not exist on {spec.HostDisplay}.",
                    "Check the database name (dbname or the URI's path); create the target database first if it is the target.");
            case { SqlState: "42501" } pe:
                return new(false, $"Permission denied for user \"{spec.User}\" ({where}): {Redactor.Redact(pe.MessageText)}.",
                    "Grant the role CONNECT on the database, or use another role.");
            case { SqlState: "53300" }:
                return new(true, $"Too many connections on {spec.HostDisplay}.", "Raise max_connections or close other sessions.");
            case { SqlState: "57P01" or "57P02" or "57P03" } pe:
                return new(true, $"The server {spec.HostDisplay} is shutting down or starting up: {pe.MessageText}.",
                    "Wait for the server to be back; a running task retries by itself within its retry window.");
            case { } pe when pe.SqlState.StartsWith("08", StringComparison.Ordinal):
                return new(true, $"Connection problem with {spec.HostDisplay}: {Redactor.Redact(pe.MessageText)}.", "Check the network and the server.");
            case { } pe:
                return new(false, $"{where}: {Redactor.Redact(pe.MessageText)} (SQLSTATE {pe.SqlState}).", "See the server's message.");
        }

        var socket = Find<SocketException>(ex);
        if (socket is not null)
        {
            return socket.SocketErrorCode switch
            {
                SocketError.HostNotFound or SocketError.NoData =>
                    new(false, $"Host name \"{spec.Hosts[0].Host}\" does not resolve.", "Check the host name (a typo, or a private DNS name that this machine cannot resolve)."),
                SocketError.ConnectionRefused =>
                    new(true, $"Connection refused by {spec.HostDisplay}: no server is listening on that port.", "Check the host and port, that the server runs, and its listen_addresses."),
                SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown =>
                    new(true, $"Cannot reach {spec.HostDisplay} ({socket.SocketErrorCode}).", "Check the network path and firewall or security group rules to the server."),
                _ => new(true, $"Network error with {spec.HostDisplay}: {socket.SocketErrorCode}.", "Check the network and the server."),
            };
        }
        var message = Redactor.Redact(Innermost(ex).Message);
        if (message.Contains("SSL", StringComparison.OrdinalIgnoreCase) || message.Contains("TLS", StringComparison.OrdinalIgnoreCase)
            || message.Contains("certificate", StringComparison.OrdinalIgnoreCase))
        {
            return new(false, $"TLS problem with {spec.HostDisplay}: {message}",
                "Set sslmode to what the server needs (sslmode=require for servers that only accept TLS; verify-full with sslrootcert for a checked certificate).");
        }
        if (message.Contains("No password has been provided", StringComparison.Ordinal))
        {
            return new(false, $"The server {spec.HostDisplay} asks user \"{spec.User}\" for a password, and none was given.",
                // No example URI with a password: the redaction of every message would mask it.
                "Give it one of the ways libpq takes: in the connection string (in a URI after the user name and a colon, before the @, "
                + "percent-encoding special characters; in keyword/value form as the password keyword), in the PGPASSWORD environment "
                + "variable, or in ~/.pgpass (hostname:port:database:username:password, mode 0600; PGPASSFILE names another file).");
        }
        if (ex is TimeoutException || Find<TimeoutException>(ex) is not null || message.Contains("timeout", StringComparison.OrdinalIgnoreCase))
        {
            return new(true, $"Timed out connecting to {spec.HostDisplay}.", "Check the network path and firewall rules; raise connect_timeout for slow links.");
        }
        if (ex is NpgsqlException { IsTransient: true } || Find<IOException>(ex) is not null || Find<EndOfStreamException>(ex) is not null)
        {
            return new(true, $"Connection to {spec.HostDisplay} was lost: {message}", "Check the server and the network.");
        }
        return new(false, message, "See the message above; PGSHIFT_TRACE=1 prints its causes.");
    }

    public static PostgresException? FindPostgresException(Exception ex) => Find<PostgresException>(ex);

    private static T? Find<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T t)
            {
                return t;
            }
            if (ex is AggregateException agg && agg.InnerExceptions.Count > 0)
            {
                return Find<T>(agg.InnerExceptions[0]);
            }
        }
        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }
        return ex;
    }
}
