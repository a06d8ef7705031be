using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql.Replication;
using NpgsqlTypes;

namespace PgShift.Stream;

/// <summary>
/// One session's loop, from the queue to the target: events applied in order (committed when the queue runs dry, so
/// the delay stays low under light load), the slot acknowledged up to what the target holds, and four times a second
/// the monitor's tick, whose requests (stop, cutover, a verify's hold) end or pause the loop.
/// </summary>
/// <param name="received">The server's decoded position, watched since the reader started (also while the staged changes were applied).</param>
internal sealed class StreamSession(ChannelReader<StreamEvent> queue, ChangeReader reader, LogicalReplicationConnection replication,
    ChangeApplier applier, StreamMonitor monitor, StreamProgress progress, bool cutover, ReceivedPosition received, ILogger logger)
{
    private DateTime _nextMonitor = DateTime.UtcNow;
    /// <summary>The first transaction at or after the hold position: it waits until the hold is lifted.</summary>
    private StreamEvent? _deferred;
    /// <summary>A verify holds the target at this source position: transactions committed from there on wait.</summary>
    private NpgsqlLogSequenceNumber? _hold;
    /// <summary>The hold position once every transaction before it is applied.</summary>
    private NpgsqlLogSequenceNumber? _heldAt;

    /// <summary>Runs until a stop or cutover request is met; a failure of the reader ends it with the reader's exception.</summary>
    public async Task<StreamOutcome> RunAsync(Task readerTask, CancellationToken ct)
    {
        while (true)
        {
            var e = await ReceiveAsync(ct);
            if (e is not null)
            {
                await applier.ApplyAsync(e, ct);
            }
            else
            {
                await applier.CommitGroupAsync(ct);
                if (!reader.InTransaction && queue.Count == 0)
                {
                    await applier.BringInWhenIdleAsync(ct);
                }
                if (_deferred is not null)
                {
                    // Every transaction committed before the hold is applied; the next one waits.
                    _heldAt = _hold;
                    await Task.Delay(20, ct);
                }
            }
            var acked = Acknowledge();
            if (DateTime.UtcNow >= _nextMonitor && await TickAsync(acked, ct) is { } outcome)
            {
                return outcome;
            }
            if (readerTask.IsFaulted)
            {
                await readerTask;
            }
        }
    }

    /// <summary>The next event to apply; null when none came within a moment, or the next one waits for a hold.</summary>
    private async ValueTask<StreamEvent?> ReceiveAsync(CancellationToken ct)
    {
        var e = _deferred;
        _deferred = null;
        if (e is null && !queue.TryRead(out e))
        {
            // Nothing is waiting: commit what is applied now, so the delay stays low under light load.
            await applier.CommitGroupAsync(ct);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            idle.CancelAfter(TimeSpan.FromMilliseconds(50));
            try
            {
                e = await queue.ReadAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                e = null;
            }
        }
        // A verify holds the target at a source position: transactions committed from there on wait.
        if (e is BeginEvent b && _hold is { } h && b.FinalLsn >= h)
        {
            _deferred = e;
            e = null;
        }
        return e;
    }

    /// <summary>
    /// Acknowledges only what the target holds. When nothing is pending, also what the server says it has decoded
    /// (keepalives), once it has settled (<see cref="ReceivedPosition"/>).
    /// </summary>
    /// <returns>The position acknowledged.</returns>
    private NpgsqlLogSequenceNumber Acknowledge()
    {
        var acked = applier.CommittedLsn;
        var idleNow = !applier.HasPending && _deferred is null && !reader.InTransaction && queue.Count == 0;
        if (idleNow && received.Settled() is { } settled && settled > acked)
        {
            acked = settled;
        }
        if (acked > replication.LastFlushedLsn)
        {
            replication.SetReplicationStatus(acked);
        }
        else if (replication.LastFlushedLsn > acked)
        {
            acked = replication.LastFlushedLsn;
        }
        if (_hold is { } holdAt && idleNow && acked >= holdAt)
        {
            _heldAt = _hold;
        }
        return acked;
    }

    /// <summary>The monitor's tick: progress out, requests in; the outcome when a request ends the session.</summary>
    private async Task<StreamOutcome?> TickAsync(NpgsqlLogSequenceNumber acked, CancellationToken ct)
    {
        _nextMonitor = DateTime.UtcNow.AddMilliseconds(250);
        var requests = await monitor.TickAsync(applier, acked, _heldAt, cutover, ct);
        if (requests.Hold != _hold)
        {
            _hold = requests.Hold;
            _heldAt = null;
        }
        progress.PausedAt = _hold?.ToString();
        if (requests.Stop && !applier.HasPending)
        {
            logger.LogInformation("Stopped on request at {Lsn}", applier.CommittedLsn);
            return StreamOutcome.Stopped;
        }
        // The monitor's verdict covers the request, nothing pending and the positions; tables joining the task are the applier's.
        if (monitor.ReadyToCutOver && !applier.TablesWaiting)
        {
            logger.LogInformation("Caught up at {Lsn} for the cutover", applier.CommittedLsn);
            return StreamOutcome.CaughtUpForCutover;
        }
        return null;
    }
}
