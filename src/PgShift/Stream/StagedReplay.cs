using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// Applies what <see cref="ChangeStager"/> staged during the copy, before the stream reads the slot again: the staged
/// rows go through the stream's own applier in their order, so the rules are the live stream's (a transaction whose
/// end is not beyond the applied LSN is skipped, a table receives the changes committed at or after its sync LSN,
/// progress commits with the data). Rows whose transactions the target holds are deleted as the apply goes; the
/// Relation messages last, once everything staged is applied.
/// </summary>
internal static class StagedReplay
{
    private const int ReadRows = 5_000;

    /// <returns>Changes staged that this call went through (0 when nothing was staged).</returns>
    public static async Task<long> ApplyAsync(NpgsqlConnection state, ChangeApplier applier, string task, ILogger logger, CancellationToken ct)
    {
        var mark = await StagedChanges.DiscardPartialAsync(state, task, ct);
        var rows = await StagedChanges.ReadAsync(state, task, 0, mark.Seq, ReadRows, ct);
        if (rows.Count == 0)
        {
            return 0;
        }
        logger.LogInformation("Applying {Count} changes of task {Task} staged during the copy", mark.Changes, task);
        var started = DateTime.UtcNow;
        var applying = new System.Diagnostics.Stopwatch();
        var commits = new Queue<(long Seq, NpgsqlLogSequenceNumber End)>();
        long deletedThrough = 0;
        long changes = 0;
        while (rows.Count > 0)
        {
            // The next rows are read, and those whose transactions the target holds deleted, while these are applied.
            var through = AppliedThrough(commits, applier.CommittedLsn);
            var after = rows[^1].Seq;
            var next = ReadNextAsync(state, task, through > deletedThrough ? through : null, after, mark.Seq, ct);
            deletedThrough = Math.Max(deletedThrough, through);
            var now = DateTime.UtcNow;
            applying.Start();
            try
            {
                foreach (var row in rows)
                {
                    await applier.ApplyAsync(ToEvent(row, task, now), ct);
                    switch (row.Kind)
                    {
                        case StagedKind.Commit:
                            commits.Enqueue((row.Seq, row.EndLsn!.Value));
                            break;
                        case StagedKind.Event:
                            changes++;
                            break;
                    }
                }
            }
            catch
            {
                // The read connection is left idle behind the failure, whose exception is the one to report.
                await next.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }
            applying.Stop();
            rows = await next;
        }
        await applier.CommitGroupAsync(ct);
        await StagedChanges.ClearAsync(state, task, ct);
        logger.LogInformation("Applied the changes staged during the copy ({Count} in {Seconds:0.0}s, {Applying:0.0}s of them applying), up to {Lsn}",
            changes, (DateTime.UtcNow - started).TotalSeconds, applying.Elapsed.TotalSeconds, applier.CommittedLsn);
        return changes;
    }

    /// <summary>Deletes the rows through <paramref name="deleteThrough"/> (when given), then reads the rows after <paramref name="after"/>.</summary>
    private static async Task<List<StagedRow>> ReadNextAsync(NpgsqlConnection state, string task, long? deleteThrough, long after, long throughSeq, CancellationToken ct)
    {
        if (deleteThrough is { } d)
        {
            await StagedChanges.DeleteAppliedAsync(state, task, d, ct);
        }
        return await StagedChanges.ReadAsync(state, task, after, throughSeq, ReadRows, ct);
    }

    /// <summary>The last staged row whose transaction the target holds.</summary>
    private static long AppliedThrough(Queue<(long Seq, NpgsqlLogSequenceNumber End)> commits, NpgsqlLogSequenceNumber committed)
    {
        long through = 0;
        while (commits.TryPeek(out var c) && c.End <= committed)
        {
            through = c.Seq;
            commits.Dequeue();
        }
        return through;
    }

    private static StreamEvent ToEvent(StagedRow row, string task, DateTime now) => row.Kind switch
    {
        StagedKind.Begin => new BeginEvent(row.Xid, row.CommitLsn, row.CommitTime ?? now, now),
        StagedKind.Commit => new CommitEvent(row.CommitLsn, row.EndLsn!.Value, row.CommitTime ?? now, now),
        _ => Decode(row, task, now),
    };

    private static StreamEvent Decode(StagedRow row, string task, DateTime now)
    {
        using var reader = new BinaryReader(new MemoryStream(row.Event!), Encoding.UTF8);
        return StreamEventCodec.Read(reader, now, $"Staged change {row.Seq} of task {task}");
    }
}
