using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Npgsql;

namespace PgShift.Connections;

/// <summary>A failure of PgShift's own that waiting can fix (a lost snapshot, a slot still held by a dying session).</summary>
public interface ITransientFailure;

/// <summary>
/// The one answer to "can waiting fix this failure?", used by every retry (copy, stream, schema phases, cutover): decided
/// by the failure's type and SQLSTATE, never by the text of its message.
/// </summary>
public static class Transience
{
    public static bool IsTransient(Exception ex)
    {
        switch (ex)
        {
            case OperationCanceledException or RetryWindowClosedException:
                return false;
            case ITransientFailure:
                return true;
            case ConnectionFailedException failed:
                return failed.Failure.IsTransient;
            case ChannelClosedException { InnerException: { } inner }:
                // The reader's failure reaches the applier wrapped in the closed queue.
                return IsTransient(inner);
            case AggregateException { InnerExceptions.Count: > 0 } agg:
                return IsTransient(agg.InnerExceptions[0]);
            case PgShiftException { InnerException: null }:
                // Said for a person already, and about something waiting does not change (bad input, a conflict, a refused check).
                return false;
            case PgShiftException { InnerException: { } cause }:
                return IsTransient(cause);
            case PostgresException pe:
                return IsTransientState(pe.SqlState);
            case AuthenticationException:
                // A TLS handshake the server refuses: a setting to change, not an outage.
                return false;
            case SocketException se:
                return se.SocketErrorCode is not (SocketError.HostNotFound or SocketError.NoData);
            case TimeoutException or IOException or EndOfStreamException:
                return true;
            case NpgsqlException { InnerException: { } inner } when IsDecisive(inner):
                return IsTransient(inner);
            case NpgsqlException npgsql:
                return npgsql.IsTransient;
            default:
                return ex.InnerException is { } next && IsTransient(next);
        }
    }

    /// <summary>
    /// SQLSTATEs of an outage: connection exceptions (class 08), too many connections, a server shutting down or starting
    /// up. (A replication slot still active for a dying session, 55006, is the stream's own case: see its retry.)
    /// </summary>
    public static bool IsTransientState(string sqlState)
        => sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "53300" or "57P01" or "57P02" or "57P03";

    private static bool IsDecisive(Exception inner) => inner is SocketException or AuthenticationException or TimeoutException or IOException or PostgresException;
}

/// <summary>A failure that went on for longer than the task's retry window: the task stops retrying and fails.</summary>
public sealed class RetryWindowClosedException(string message, string? fix, Exception inner) : PgShiftException(message, fix, inner);
