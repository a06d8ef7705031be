using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// Applies what <see cref="ChangeStager"/> staged during the copy, before the stream reads the slot again: the staged
/// rows go through the stream's own applier in their order, so the rules are the live stream's (a transaction whose
/// end is not beyond the applied LSN is skipped, a table receives the changes committed at or after its sync LSN,
/// progress commits with the data). The rows are read in one query and decoded on a thread of their own while the
/// applier works, and stay until everything staged is applied: a replay cut short by a crash starts again from the
/// first staged row, and the applied LSN skips what the target holds. Only the end state of the replay counts (the
/// stream is not caught up before it ends), so its target transactions are larger than the live stream's.
/// </summary>
internal static class StagedReplay
{
    /// <summary>Decoded events handed to the applier at a time, and such handfuls held: bound memory whatever the number staged.</summary>
    private const int Handful = 500;
    private const int QueueHandfuls = 20;

    /// <summary>
    /// How the replay groups: its target transactions close on the live stream's size but not on its time (the live
    /// stream closes them within 100 ms to keep the delay low). Batches keep their size: a set statement over many more
    /// rows makes the target's planner prefer a scan of the whole table to one index lookup per row, which is slower
    /// where the table is large.
    /// </summary>
    internal static ApplyOptions ReplayOptions(ApplyOptions live) => live with { GroupDelay = TimeSpan.FromSeconds(Math.Max(live.GroupDelay.TotalSeconds, 5)) };

    /// <summary>How often the replay lets the stream's monitor tick (progress out to the task state, requests in).</summary>
    private static readonly TimeSpan TickEvery = TimeSpan.FromSeconds(1);
    /// <summary>How often a long replay says in the log how far it is.</summary>
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(30);

    /// <param name="tick">
    /// The stream monitor's tick, called about once a second between two source transactions; true when a stop is asked
    /// for, and then the replay commits what it applied and ends there, its staged rows kept for the next run.
    /// </param>
    /// <returns>Whether it stopped on request before the end (false also when nothing was staged).</returns>
    public static async Task<bool> ApplyAsync(NpgsqlConnection state, ChangeApplier applier, string task, ILogger logger,
        Func<CancellationToken, Task<bool>>? tick, CancellationToken ct)
    {
        var mark = await StagedChanges.DiscardPartialAsync(state, task, ct);
        if (mark.Seq == 0)
        {
            return false;
        }
        logger.LogInformation("Applying {Count} changes of task {Task} staged during the copy", mark.Changes, task);
        var started = DateTime.UtcNow;
        var nextLog = started + LogEvery;
        var appliedBefore = applier.ChangesApplied;
        var live = applier.Options;
        applier.Options = ReplayOptions(live);
        bool stopped;
        try
        {
            stopped = await FeedAsync(state, applier, task, 0, mark.Seq, tick is null ? null : async (done, c) =>
            {
                if (DateTime.UtcNow >= nextLog)
                {
                    nextLog = DateTime.UtcNow + LogEvery;
                    logger.LogInformation("Applying the changes staged during the copy: {Done:N0} of {Count:N0} gone through, {Applied:N0} applied, in {Seconds:0}s",
                        done, mark.Changes, applier.ChangesApplied - appliedBefore, (DateTime.UtcNow - started).TotalSeconds);
                }
                return await tick(c);
            }, ct);
            await applier.CommitGroupAsync(ct);
        }
        finally
        {
            applier.Options = live;
        }
        if (stopped)
        {
            logger.LogInformation("Stopped on request while applying the changes staged during the copy, at {Lsn}: the next run goes on from there",
                applier.CommittedLsn);
            return true;
        }
        await StagedChanges.ClearAsync(state, task, ct);
        logger.LogInformation("Applied the changes staged during the copy ({Count} in {Seconds:0.0}s), up to {Lsn}",
            mark.Changes, (DateTime.UtcNow - started).TotalSeconds, applier.CommittedLsn);
        return false;
    }

    /// <summary>
    /// Gives the applier the staged rows after <paramref name="afterSeq"/> through <paramref name="throughSeq"/>, in order,
    /// read and decoded on a thread of their own while it applies; commits nothing itself.
    /// </summary>
    /// <param name="tick">
    /// Called about once a second, between two source transactions, with the row changes and TRUNCATEs gone through so
    /// far (applied or skipped by the applier's rules, not those passed over undecoded, <see cref="StagedPassOver"/>);
    /// true ends the feed there.
    /// </param>
    /// <returns>Whether <paramref name="tick"/> ended the feed before <paramref name="throughSeq"/>.</returns>
    internal static async Task<bool> FeedAsync(NpgsqlConnection state, ChangeApplier applier, string task, long afterSeq, long throughSeq,
        Func<long, CancellationToken, Task<bool>>? tick, CancellationToken ct)
    {
        var passOver = new StagedPassOver(applier.SyncLsns(), Replication.SchemaCapture.ChangeTableName(task));
        var queue = Channel.CreateBounded<List<(StagedKind Kind, StreamEvent Event)>>(new BoundedChannelOptions(QueueHandfuls) { SingleReader = true, SingleWriter = true });
        using var readCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reading = Task.Run(() => ReadAsync(state, task, afterSeq, throughSeq, passOver, queue.Writer, readCts.Token), CancellationToken.None);
        long changes = 0;
        var nextTick = DateTime.UtcNow + TickEvery;
        try
        {
            while (await queue.Reader.WaitToReadAsync(ct))
            {
                while (queue.Reader.TryRead(out var handful))
                {
                    foreach (var (kind, e) in handful)
                    {
                        await applier.ApplyAsync(e, ct);
                        if (kind == StagedKind.Event)
                        {
                            changes++;
                        }
                        else if (kind == StagedKind.Commit && tick is not null && DateTime.UtcNow >= nextTick)
                        {
                            // Between two source transactions: the only place the feed may end early.
                            if (await tick(changes, ct))
                            {
                                return true;
                            }
                            nextTick = DateTime.UtcNow + TickEvery;
                        }
                    }
                }
            }
        }
        finally
        {
            await readCts.CancelAsync();
            // The read's failure, if any, reached the loop through the queue.
            await reading.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return false;
    }

    /// <summary>Reads the staged rows in order, decodes them and queues them for the applier.</summary>
    private static async Task ReadAsync(NpgsqlConnection state, string task, long afterSeq, long throughSeq, StagedPassOver passOver,
        ChannelWriter<List<(StagedKind, StreamEvent)>> queue, CancellationToken ct)
    {
        try
        {
            var handful = new List<(StagedKind, StreamEvent)>(Handful);
            var now = DateTime.UtcNow;
            await foreach (var row in StagedChanges.ReadAsync(state, task, afterSeq, throughSeq, ct))
            {
                if (passOver.Skips(row))
                {
                    continue;
                }
                var e = ToEvent(row, task, now);
                if (e is RelationEvent relation)
                {
                    passOver.Saw(relation);
                }
                handful.Add((row.Kind, e));
                if (handful.Count == Handful)
                {
                    await queue.WriteAsync(handful, ct);
                    handful = new List<(StagedKind, StreamEvent)>(Handful);
                    now = DateTime.UtcNow;
                }
            }
            if (handful.Count > 0)
            {
                await queue.WriteAsync(handful, ct);
            }
            queue.Complete();
        }
        catch (Exception ex)
        {
            queue.Complete(ex);
        }
    }

    private static StreamEvent ToEvent(StagedRow row, string task, DateTime now) => row.Kind switch
    {
        // A staged transaction's delay counts from its commit (not from its reading here), as far as the clocks allow.
        StagedKind.Begin => new BeginEvent(row.Xid, row.CommitLsn, row.CommitTime ?? now, row.CommitTime is { } committed && committed < now ? committed : now),
        StagedKind.Commit => new CommitEvent(row.CommitLsn, row.EndLsn!.Value, row.CommitTime ?? now, now),
        _ => Decode(row, task, now),
    };

    private static StreamEvent Decode(StagedRow row, string task, DateTime now)
    {
        using var reader = new BinaryReader(new MemoryStream(row.Event!), Encoding.UTF8);
        return StreamEventCodec.Read(reader, now, $"Staged change {row.Seq} of task {task}");
    }
}
