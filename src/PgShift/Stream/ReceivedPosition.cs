using Npgsql.Replication;
using NpgsqlTypes;

namespace PgShift.Stream;

/// <summary>
/// What the server says it has decoded (its keepalives), as far as it may be acknowledged: Npgsql records a message's
/// position before handing the message on, so that position counts only once it has stayed the same, with no new
/// message, for a moment.
/// </summary>
internal sealed class ReceivedPosition(LogicalReplicationConnection replication, ChangeReader reader)
{
    private static readonly TimeSpan Moment = TimeSpan.FromMilliseconds(200);
    private (NpgsqlLogSequenceNumber Lsn, long Messages, DateTime Since) _seen = (default, -1L, DateTime.MinValue);

    /// <summary>Looks at the position received now; once it has stayed the same for the moment, returns it (else null).</summary>
    public NpgsqlLogSequenceNumber? Settled()
    {
        var received = replication.LastReceivedLsn;
        var messages = reader.Messages;
        var now = DateTime.UtcNow;
        if (received != _seen.Lsn || messages != _seen.Messages)
        {
            _seen = (received, messages, now);
            return null;
        }
        return now - _seen.Since >= Moment ? received : null;
    }
}
