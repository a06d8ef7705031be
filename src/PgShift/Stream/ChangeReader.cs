using System.Threading.Channels;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using Npgsql;
using NpgsqlTypes;

namespace PgShift.Stream;

/// <summary>
/// Reads the task's slot with pgoutput and copies each message into a <see cref="StreamEvent"/> on a
/// bounded channel: when the applier falls behind, reading waits, so memory stays bounded whatever the
/// size of a source transaction. From PostgreSQL 14 on, a transaction that outgrows the server's
/// logical_decoding_work_mem is streamed while it runs (when <paramref name="spoolDirectory"/> is given): its
/// changes go to a <see cref="TransactionSpool"/> file, and at its commit they are handed on like any other
/// transaction's, in commit order; an abort drops them, and so does the source's commit log when it says that a
/// subtransaction was rolled back (<paramref name="outcomes"/>; the stream does not always say so).
/// </summary>
public sealed class ChangeReader(LogicalReplicationConnection connection, string slotName, string publication, ChannelWriter<StreamEvent> output,
    string? spoolDirectory = null, long spoolLimitBytes = long.MaxValue, StreamProgress? progress = null, SubtransactionOutcomes? outcomes = null)
{
    /// <summary>
    /// The newest protocol this reader uses: 4 (PostgreSQL 16+) adds only parallel apply of streamed transactions, which
    /// PgShift does not ask for, and with streaming on but not parallel the server leaves a stream abort's LSN and time
    /// out while the driver reads them in: version 3 is the newest that both read alike.
    /// </summary>
    public static PgOutputProtocolVersion ProtocolFor(int serverMajor) => serverMajor switch
    {
        >= 15 => PgOutputProtocolVersion.V3,
        14 => PgOutputProtocolVersion.V2,
        _ => PgOutputProtocolVersion.V1,
    };

    /// <summary>Fault injection for tests: a subtransaction's STREAM ABORT is ignored, as if the source had not sent it.</summary>
    internal bool LoseSubtransactionAborts { get; init; }

    private volatile bool _inTransaction;
    private long _messages;

    /// <summary>How many messages the server has sent so far (to tell a quiet moment from one between two messages).</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>A source transaction's Begin was read and its Commit not yet handed on.</summary>
    public bool InTransaction => _inTransaction;

    /// <summary>Transactions being streamed by the source (PostgreSQL 14+), by xid, each in its spool file until it ends.</summary>
    private readonly Dictionary<uint, TransactionSpool> _spools = new();
    /// <summary>The spool of the streamed chunk being read (between STREAM START and STREAM STOP).</summary>
    private TransactionSpool? _streamingInto;

    public async Task RunAsync(NpgsqlLogSequenceNumber startLsn, CancellationToken ct)
    {
        // Text values: every type has a text form that the target parses into its own type, whatever its oid there.
        // (The binary option exists from PostgreSQL 14 on; older servers reject it even when false.)
        var major = connection.PostgreSqlVersion.Major;
        var streaming = spoolDirectory is not null && major >= 14;
        var options = new PgOutputReplicationOptions(publication, ProtocolFor(major), binary: major >= 14 ? false : null,
            streamingMode: streaming ? PgOutputStreamingMode.On : null);
        var slot = new PgOutputReplicationSlot(slotName);
        try
        {
            await foreach (var message in connection.StartReplication(slot, options, ct, startLsn))
            {
                Interlocked.Increment(ref _messages);
                var now = DateTime.UtcNow;
                if (await OnStreamedTransactionAsync(message, now, ct))
                {
                    continue;
                }
                if (await ToEventAsync(message, now, ct) is { } e)
                {
                    await HandOnAsync(message, e, ct);
                }
            }
            // The server ends the copy of its own accord when it shuts down (a restart, a failover): a lost connection,
            // to be retried like any other, never the end of the task's changes.
            ct.ThrowIfCancellationRequested();
            throw new EndOfStreamException("The source ended the replication stream (the server is shutting down or closed the connection).");
        }
        catch (NpgsqlException ex) when (ex is not PostgresException && !ct.IsCancellationRequested && ex.InnerException is null)
        {
            // A walsender that shuts down ends the copy and completes the command, which the driver reads as a protocol
            // error ("CommandComplete while expecting CopyData"): the stream resumes from the target's checkpoint,
            // so retrying it is always safe.
            var ended = new EndOfStreamException("The source ended the replication stream (the server is shutting down or closed the connection).", ex);
            output.TryComplete(ended);
            throw ended;
        }
        catch (Exception ex)
        {
            output.TryComplete(ex);
            throw;
        }
        finally
        {
            foreach (var spool in _spools.Values)
            {
                spool.Dispose();
            }
            _spools.Clear();
        }
    }

    /// <summary>The messages of a streamed transaction's life (start and stop of a chunk, abort, commit); false for any other message.</summary>
    private async ValueTask<bool> OnStreamedTransactionAsync(PgOutputReplicationMessage message, DateTime now, CancellationToken ct)
    {
        switch (message)
        {
            case StreamStartMessage start:
                if (!_spools.TryGetValue(start.TransactionXid, out _streamingInto))
                {
                    TransactionSpool.CreatePrivateDirectory(spoolDirectory!);
                    _spools[start.TransactionXid] = _streamingInto = new TransactionSpool(spoolDirectory!, start.TransactionXid);
                }
                return true;
            case StreamStopMessage:
                _streamingInto = null;
                return true;
            case StreamAbortMessage abort:
                if (_spools.TryGetValue(abort.TransactionXid, out var aborted))
                {
                    if (abort.SubtransactionXid == abort.TransactionXid)
                    {
                        aborted.Dispose();
                        _spools.Remove(abort.TransactionXid);
                    }
                    else if (!LoseSubtransactionAborts)
                    {
                        aborted.AbortSubtransaction(abort.SubtransactionXid);
                    }
                }
                return true;
            case StreamCommitMessage commit:
                // From here until its last change is queued, the commit's position must not be acknowledged as idle.
                _inTransaction = true;
                if (_spools.Remove(commit.TransactionXid, out var committed))
                {
                    using (committed)
                    {
                        await HandOnSpooledAsync(commit, committed, now, ct);
                    }
                }
                _inTransaction = false;
                return true;
            default:
                return false;
        }
    }

    /// <summary>A streamed transaction at its commit: its changes handed on like any other transaction's, without its rolled-back subtransactions.</summary>
    private async Task HandOnSpooledAsync(StreamCommitMessage commit, TransactionSpool committed, DateTime now, CancellationToken ct)
    {
        var rolledBack = outcomes is not null && committed.Subtransactions.Count > 0
            ? await outcomes.AbortedAsync(commit.TransactionXid, committed.Subtransactions, ct)
            : null;
        await output.WriteAsync(new BeginEvent(commit.TransactionXid, commit.CommitLsn, commit.TransactionCommitTimestamp, now), ct);
        foreach (var spooled in committed.Read(now, rolledBack))
        {
            await output.WriteAsync(spooled, ct);
        }
        await output.WriteAsync(new CommitEvent(commit.CommitLsn, commit.TransactionEndLsn, commit.TransactionCommitTimestamp, now), ct);
        if (progress is not null)
        {
            Interlocked.Increment(ref progress.SpooledTransactions);
        }
    }

    /// <summary>PgShift's own copy of a message (Npgsql reuses its instances); null for a message the applier has no use for.</summary>
    private static async ValueTask<StreamEvent?> ToEventAsync(PgOutputReplicationMessage message, DateTime now, CancellationToken ct) => message switch
    {
        BeginMessage b => new BeginEvent(b.TransactionXid, b.TransactionFinalLsn, b.TransactionCommitTimestamp, now),
        CommitMessage c => new CommitEvent(c.CommitLsn, c.TransactionEndLsn, c.TransactionCommitTimestamp, now),
        RelationMessage r => new RelationEvent(r.RelationId, r.Namespace, r.RelationName, Identity(r.ReplicaIdentity),
            r.Columns.Select(c => new RelationColumn(c.ColumnName, c.DataTypeId, (c.Flags & RelationMessage.Column.ColumnFlags.PartOfKey) != 0)).ToList(), now),
        InsertMessage i => new RowEvent(RowChangeKind.Insert, i.Relation.RelationId, null, await ReadAsync(i.NewRow, ct), now),
        FullUpdateMessage u => new RowEvent(RowChangeKind.Update, u.Relation.RelationId, await ReadAsync(u.OldRow, ct), await ReadAsync(u.NewRow, ct), now),
        IndexUpdateMessage u => new RowEvent(RowChangeKind.Update, u.Relation.RelationId, await ReadAsync(u.Key, ct), await ReadAsync(u.NewRow, ct), now),
        UpdateMessage u => new RowEvent(RowChangeKind.Update, u.Relation.RelationId, null, await ReadAsync(u.NewRow, ct), now),
        FullDeleteMessage d => new RowEvent(RowChangeKind.Delete, d.Relation.RelationId, await ReadAsync(d.OldRow, ct), null, now),
        KeyDeleteMessage d => new RowEvent(RowChangeKind.Delete, d.Relation.RelationId, await ReadAsync(d.Key, ct), null, now),
        TruncateMessage t => new TruncateEvent(t.Relations.Select(r => r.RelationId).ToList(),
            (t.Options & TruncateMessage.TruncateOptions.Cascade) != 0, (t.Options & TruncateMessage.TruncateOptions.RestartIdentity) != 0, now),
        _ => null,
    };

    /// <summary>An event onto the queue, or into its transaction's spool file while a streamed chunk is read.</summary>
    private async ValueTask HandOnAsync(PgOutputReplicationMessage message, StreamEvent e, CancellationToken ct)
    {
        if (_streamingInto is not null)
        {
            // Inside a streamed chunk every change names its (sub)transaction.
            _streamingInto.Write((message as TransactionalMessage)?.TransactionXid ?? _streamingInto.Xid, e);
            if (_streamingInto.Length > spoolLimitBytes)
            {
                throw new SpoolLimitException(_streamingInto.Xid, spoolLimitBytes);
            }
            return;
        }
        if (e is BeginEvent)
        {
            _inTransaction = true;
        }
        await output.WriteAsync(e, ct);
        if (e is CommitEvent)
        {
            _inTransaction = false;
        }
    }

    private static char Identity(RelationMessage.ReplicaIdentitySetting s) => s switch
    {
        RelationMessage.ReplicaIdentitySetting.AllColumns => 'f',
        RelationMessage.ReplicaIdentitySetting.IndexWithIndIsReplIdent => 'i',
        RelationMessage.ReplicaIdentitySetting.Nothing => 'n',
        _ => 'd',
    };

    private static async Task<ColumnValue[]> ReadAsync(ReplicationTuple tuple, CancellationToken ct)
    {
        var values = new ColumnValue[tuple.NumColumns];
        var i = 0;
        await foreach (var value in tuple.WithCancellation(ct))
        {
            values[i++] = value.Kind switch
            {
                TupleDataKind.Null => ColumnValue.Null,
                TupleDataKind.UnchangedToastedValue => ColumnValue.UnchangedToast,
                _ => new ColumnValue(await value.Get<string>(ct), false),
            };
        }
        return values;
    }
}

/// <summary>A streamed transaction outgrew the spool limit: the stream restarts without streaming, and the server keeps it until its commit.</summary>
public sealed class SpoolLimitException(uint xid, long limit)
    : Exception($"Source transaction {xid} outgrew the spool limit of {limit / (1024 * 1024)} MB while it ran")
{
}
