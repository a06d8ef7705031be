using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Connections;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// Reads the task's slot while its tables are still being created, copied and indexed, and stages every change on
/// the target (<see cref="StagedChanges"/>), acknowledging the slot up to what is staged, so the source recycles its
/// WAL during the copy (DESIGN.md, invariant 8). Every event is staged as it comes, in commit order, whatever its
/// relation: which of them a table receives is decided when they are applied (<see cref="StagedReplay"/>), by the
/// same rules as the live stream's. Staging is an optimisation: when it cannot go on (a failure that waiting does not
/// fix) it stops with a warning, and the stream reads what follows from the slot after the copy, as it would without it.
/// </summary>
public sealed class ChangeStager : IAsyncDisposable
{
    private readonly StreamOptions options;
    private readonly ILogger logger;

    public ChangeStager(StreamOptions options, ILogger logger)
    {
        this.options = options;
        this.logger = logger;
        _run = new BackgroundRun(RunAsync);
    }

    /// <summary>Rows a chunk holds at most before it commits (a chunk also commits when the stream pauses, and twice a second).</summary>
    internal const int ChunkRows = 10_000;
    private const long ChunkBytes = 16L << 20;
    private static readonly TimeSpan ChunkAge = TimeSpan.FromMilliseconds(500);

    private readonly BackgroundRun _run;

    /// <summary>Changes staged by this process.</summary>
    public long Staged => Interlocked.Read(ref _staged);
    private long _staged;

    /// <summary>Starts staging in the background (once; later calls do nothing).</summary>
    public void Start()
    {
        if (_run.Start())
        {
            logger.LogInformation("Staging the changes of task {Task} on the target while its tables are copied", options.TaskName);
        }
    }

    /// <summary>Stops staging: what is staged is committed with its mark, a transaction staged in part is discarded.</summary>
    public Task StopAsync() => _run.StopAsync();

    public ValueTask DisposeAsync() => _run.DisposeAsync();

    private async Task RunAsync(CancellationToken stop)
    {
        var retry = new RetryLoop("Staging the changes", options.RetryWindow, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(15))
        {
            // A slot still held by the walsender of a session that just died (55006) frees itself.
            CanRetry = ex => Transience.IsTransient(ex) || ConnectionFailure.FindPostgresException(ex) is { SqlState: "55006" } || ex is SpoolLimitException,
        };
        var spool = options.Apply.SpoolLargeTransactions;
        retry.Retrying += (ex, _, _) =>
        {
            if (ex is SpoolLimitException)
            {
                spool = false;
            }
            logger.LogWarning("Staging interrupted: {Error}. Retrying", Redactor.Redact(ex.Message));
        };
        try
        {
            await retry.RunAsync(c => SessionAsync(spool, c), stop);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogWarning("Staging stopped: {Error}. The changes from here on are read from the slot once the copy is done (the source keeps their WAL until then)",
                Redactor.Redact(ex.Message));
        }
    }

    /// <summary>One session: from the stage mark (or where the task stands) until stopped or failed.</summary>
    private async Task SessionAsync(bool spool, CancellationToken stop)
    {
        var task = options.TaskName;
        var slotName = TaskName.SlotName(task);
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift stage", stop);
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift stage monitor", stop);
        var mark = await StagedChanges.DiscardPartialAsync(target, task, stop);
        var recorded = await StreamCheckpoint.StartAsync(target, task, stop)
            ?? throw new PgShiftException($"Task {task} has no slot position recorded on the target.", "Run 'pgshift migrate' to create the slot and copy the data.");
        // Transactions committed before this position are staged or applied already.
        var from = mark.Lsn is { } staged && staged > recorded ? staged : recorded;
        await using var replication = await StreamRunner.StartReplicationAsync(options, from, stop);
        var channel = Channel.CreateBounded<StreamEvent>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, SingleWriter = true });
        var spoolDirectory = Path.Combine(StreamRunner.SpoolRoot(options.Apply.SpoolDirectory), $"{task}-stage-{Environment.ProcessId}");
        await using var outcomes = new SubtransactionOutcomes(options.Source, logger);
        var reader = new ChangeReader(replication, slotName, TaskName.PublicationName(task), channel.Writer,
            spool ? spoolDirectory : null, options.Apply.SpoolLimitBytes, null, outcomes);
        using var readerCts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var readerTask = Task.Run(() => reader.RunAsync(from, readerCts.Token), CancellationToken.None);
        var session = new StageSession(target, source, replication, reader, channel.Reader, task, slotName, mark.Seq, from);
        try
        {
            await session.RunAsync(readerTask, stop);
        }
        finally
        {
            if (session.Acknowledged > from)
            {
                try
                {
                    // The last acknowledgement goes now: the connection is closed, not ended, below.
                    await replication.SendStatusUpdate(CancellationToken.None);
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
                {
                }
            }
            await readerCts.CancelAsync();
            try
            {
                await readerTask;
            }
            catch (Exception) when (readerCts.IsCancellationRequested)
            {
            }
            Interlocked.Add(ref _staged, session.Staged);
            TransactionSpool.TryDeleteDirectory(spoolDirectory);
        }
        // Stopped: what is staged whole stays; a transaction staged in part is read again by the stream.
        await StagedChanges.DiscardPartialAsync(target, task, CancellationToken.None);
        logger.LogInformation("Staged {Count} changes of task {Task} during the copy, up to {Lsn}", Staged, task, session.Acknowledged);
    }

    /// <summary>One staging session's loop: events from the reader into chunks, each committed with the mark, the slot acknowledged after.</summary>
    private sealed class StageSession(NpgsqlConnection target, NpgsqlConnection source, Npgsql.Replication.LogicalReplicationConnection replication,
        ChangeReader reader, ChannelReader<StreamEvent> queue, string task, string slotName, long seq, NpgsqlLogSequenceNumber skipBefore)
    {
        private readonly MemoryStream _buffer = new();
        private StageChunk? _chunk;
        private DateTime _chunkStarted;
        private (NpgsqlLogSequenceNumber Lsn, long Seq)? _whole;
        private (NpgsqlLogSequenceNumber Lsn, long Seq)? _committedWhole;
        private bool _skipping;
        private bool _inTransaction;
        private NpgsqlLogSequenceNumber _commitLsn;
        private DateTime _nextTick = DateTime.MinValue;
        private (NpgsqlLogSequenceNumber Lsn, long Messages, DateTime Since) _quiet = (default, -1L, DateTime.MinValue);

        public long Staged { get; private set; }
        public NpgsqlLogSequenceNumber Acknowledged { get; private set; }

        public async Task RunAsync(Task readerTask, CancellationToken stop)
        {
            Acknowledged = skipBefore;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var e = await ReceiveAsync(stop);
                    if (readerTask.IsFaulted)
                    {
                        await readerTask;
                    }
                    if (e is not null)
                    {
                        await StageAsync(e);
                    }
                    if (_chunk is not null && (e is null || _chunk.Rows >= ChunkRows || _chunk.Bytes >= ChunkBytes || DateTime.UtcNow - _chunkStarted >= ChunkAge))
                    {
                        await FlushAsync();
                    }
                    if (_chunk is null)
                    {
                        await AcknowledgeIdleAsync(e is null);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch
            {
                // The chunk's COPY is cancelled and its transaction rolled back: the slot was not acknowledged for it.
                if (_chunk is { } open)
                {
                    _chunk = null;
                    await open.DisposeAsync();
                }
                throw;
            }
            if (_chunk is not null)
            {
                await FlushAsync();
            }
        }

        private async ValueTask<StreamEvent?> ReceiveAsync(CancellationToken stop)
        {
            if (queue.TryRead(out var e))
            {
                return e;
            }
            if (_chunk is not null)
            {
                // Nothing waiting: commit what is written, so the slot is acknowledged up to it.
                return null;
            }
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stop);
            idle.CancelAfter(TimeSpan.FromMilliseconds(100));
            try
            {
                return await queue.ReadAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                return null;
            }
        }

        private async Task StageAsync(StreamEvent e)
        {
            StagedRow row;
            switch (e)
            {
                case BeginEvent b:
                    // Staged (or applied) already: the slot gave it again after a restart.
                    _skipping = b.FinalLsn < skipBefore;
                    if (_skipping)
                    {
                        return;
                    }
                    _inTransaction = true;
                    _commitLsn = b.FinalLsn;
                    row = new StagedRow(++seq, StagedKind.Begin, b.FinalLsn, null, b.CommitTime, b.Xid, null);
                    break;
                case CommitEvent c:
                    if (_skipping)
                    {
                        _skipping = false;
                        return;
                    }
                    row = new StagedRow(++seq, StagedKind.Commit, c.CommitLsn, c.EndLsn, c.CommitTime, 0, null);
                    break;
                default:
                    // A Relation message is staged even in a transaction skipped: the later changes of its table need it.
                    if (_skipping && e is not RelationEvent)
                    {
                        return;
                    }
                    row = new StagedRow(++seq, e is RelationEvent ? StagedKind.TableShape : StagedKind.Event, _commitLsn, null, null, 0, Encode(e));
                    Staged += e is RelationEvent ? 0 : 1;
                    break;
            }
            if (_chunk is null)
            {
                _chunk = await StagedChanges.BeginChunkAsync(target, task, CancellationToken.None);
                _chunkStarted = DateTime.UtcNow;
            }
            await _chunk.WriteAsync(row, CancellationToken.None);
            if (row.Kind == StagedKind.Commit)
            {
                _whole = (row.EndLsn!.Value, row.Seq);
                _inTransaction = false;
            }
        }

        private byte[] Encode(StreamEvent e)
        {
            _buffer.SetLength(0);
            using (var writer = new BinaryWriter(_buffer, Encoding.UTF8, leaveOpen: true))
            {
                StreamEventCodec.Write(writer, e);
            }
            return _buffer.ToArray();
        }

        /// <summary>Commits the chunk with the mark of the last transaction staged whole, then acknowledges that position.</summary>
        private async Task FlushAsync()
        {
            await using (var chunk = _chunk!)
            {
                _chunk = null;
                await chunk.CommitAsync(_whole != _committedWhole ? _whole : null, CancellationToken.None);
            }
            _committedWhole = _whole;
            if (_whole is { } whole && whole.Lsn > Acknowledged)
            {
                Acknowledge(whole.Lsn);
            }
            await TickAsync();
        }

        /// <summary>
        /// When nothing is pending, what the server says it has decoded (keepalives) is acknowledged too, so an idle
        /// source does not keep its WAL; as for the stream, only once that position has stayed for a moment with no message.
        /// </summary>
        private async Task AcknowledgeIdleAsync(bool idle)
        {
            if (idle && !_inTransaction && !reader.InTransaction && queue.Count == 0)
            {
                var received = replication.LastReceivedLsn;
                var messages = reader.Messages;
                if (received != _quiet.Lsn || messages != _quiet.Messages)
                {
                    _quiet = (received, messages, DateTime.UtcNow);
                }
                else if (DateTime.UtcNow - _quiet.Since >= TimeSpan.FromMilliseconds(200) && received > Acknowledged)
                {
                    Acknowledge(received);
                }
            }
            await TickAsync();
        }

        private void Acknowledge(NpgsqlLogSequenceNumber lsn)
        {
            Acknowledged = lsn;
            replication.SetReplicationStatus(lsn);
        }

        /// <summary>Once a second: the WAL the slot keeps on the source, and that staging is alive, into the task's state.</summary>
        private async Task TickAsync()
        {
            if (DateTime.UtcNow < _nextTick)
            {
                return;
            }
            _nextTick = DateTime.UtcNow.AddSeconds(1);
            await using var cmd = new NpgsqlCommand(
                "SELECT coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = @s), 0)", source);
            cmd.Parameters.AddWithValue("s", slotName);
            var retained = (long)(await cmd.ExecuteScalarAsync(CancellationToken.None))!;
            await StagedChanges.RecordTickAsync(target, task, retained, CancellationToken.None);
        }
    }
}
