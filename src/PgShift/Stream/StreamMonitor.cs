using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Connections;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// Once a second: the source's WAL flush position and the slot's retained WAL, the delay computed from
/// them, the progress written to the task state, and the stop and cutover requests read from it.
/// </summary>
internal sealed class StreamMonitor(StreamOptions options, NpgsqlConnection source, string slotName, StreamProgress progress, ILogger logger) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        if (_state is not null)
        {
            await _state.DisposeAsync();
        }
    }

    private NpgsqlConnection? _state;
    private DateTime _lastCaughtUp = DateTime.UtcNow;
    private NpgsqlLogSequenceNumber? _previousFlush;
    private bool _previousSettled;
    private long _previousChanges;
    private DateTime _previousAt = DateTime.UtcNow;
    private long _warnedRetainedGb;
    /// <summary>A cutover was asked for at an earlier tick (by the request or by 'migrate --cutover').</summary>
    private bool _cutoverAsked;
    /// <summary>
    /// The source's flush position read at the first tick after the cutover was asked for: every transaction committed
    /// before the request lies before it, so the cutover waits until what is applied has reached it.
    /// </summary>
    private NpgsqlLogSequenceNumber? _cutoverReference;

    /// <summary>Everything committed on the source before the cutover was asked for is applied, and the source is settled.</summary>
    public bool ReadyToCutOver { get; private set; }

    /// <param name="cutover">The session cuts over once caught up ('migrate --cutover'), whether or not a request asks.</param>
    public async Task<(bool Stop, bool Cutover, NpgsqlLogSequenceNumber? Hold)> TickAsync(ChangeApplier applier, NpgsqlLogSequenceNumber acked,
        NpgsqlLogSequenceNumber? heldAt, bool cutover, CancellationToken ct)
    {
        NpgsqlLogSequenceNumber flush;
        long retained;
        bool settled;
        await using (var cmd = new NpgsqlCommand(
            // With synchronous_commit = off on the source a committed transaction can sit unflushed for a while, and
            // decoding reads only flushed WAL: the flush position counts only once it has reached the insert position
            // (give or take a page header), else "caught up" could be declared before such a transaction is applied.
            """
            SELECT pg_current_wal_flush_lsn(),
                   coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = @s), 0),
                   pg_wal_lsn_diff(pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn()) <= 64
            """, source))
        {
            cmd.Parameters.AddWithValue("s", slotName);
            await using var rd = await cmd.ExecuteReaderAsync(ct);
            await rd.ReadAsync(ct);
            flush = rd.GetFieldValue<NpgsqlLogSequenceNumber>(0);
            retained = rd.GetInt64(1);
            settled = rd.GetBoolean(2);
        }
        // "Caught up": what was acknowledged after applying has reached the flush position read a tick earlier. A tick that
        // came late (the applier was busy: a table joining the task is copied between two ticks) makes that position stale.
        if (DateTime.UtcNow - _previousAt > TimeSpan.FromSeconds(1))
        {
            _previousFlush = null;
            _previousSettled = false;
        }
        var reference = _previousFlush ?? flush;
        var caughtUp = !applier.HasPending && acked >= reference;
        // The cutover also needs the position read after the request was seen: the previous tick's can predate the
        // application's last writes, made just before asking and perhaps still queued. Everything committed before the
        // request is applied, the stream has caught up, and nothing committed on the source is still unflushed.
        if (_cutoverAsked)
        {
            _cutoverReference ??= flush;
        }
        ReadyToCutOver = _cutoverReference is { } cutoverAt && caughtUp && acked >= cutoverAt && settled && _previousSettled;
        _previousFlush = flush;
        _previousSettled = settled;
        var now = DateTime.UtcNow;
        if (caughtUp)
        {
            _lastCaughtUp = now;
        }
        progress.CaughtUp = caughtUp;
        progress.DelayBytes = caughtUp ? 0 : Math.Max(0, (long)((ulong)flush - Math.Min((ulong)flush, (ulong)acked)));
        progress.DelaySeconds = caughtUp ? 0 : applier.OldestUnappliedAt is { } oldest ? (now - oldest).TotalSeconds : (now - _lastCaughtUp).TotalSeconds;
        progress.ChangesApplied = applier.ChangesApplied;
        progress.TransactionsApplied = applier.TransactionsApplied;
        progress.ChangesPerSecond = (applier.ChangesApplied - _previousChanges) / Math.Max(0.001, (now - _previousAt).TotalSeconds);
        progress.SlotRetainedBytes = retained;
        progress.AppliedLsn = applier.CommittedLsn.ToString();
        _previousChanges = applier.ChangesApplied;
        _previousAt = now;
        if (retained / (1L << 30) > _warnedRetainedGb)
        {
            _warnedRetainedGb = retained / (1L << 30);
            logger.LogWarning("The slot {Slot} keeps {GB} GB of WAL on the source; watch its disk", slotName, _warnedRetainedGb);
        }

        _state ??= await ConnectionOpener.OpenAsync(options.Target, "pgshift state", ct);
        var requests = await StreamReport.RecordTickAsync(_state, options.TaskName, progress.DelayBytes, progress.DelaySeconds, progress.ChangesApplied, retained, heldAt, ct);
        if (requests.OrphanedCutover)
        {
            // The 'pgshift cutover' that asked is gone (killed, its session lost): nobody waits, so nobody cuts over.
            logger.LogWarning("A cutover request for task {Task} was left by a 'pgshift cutover' that is no longer running; it is ignored and withdrawn",
                options.TaskName);
            await StreamReport.WithdrawOrphanedCutoverAsync(_state, options.TaskName, requests.OrphanedCutoverBy, ct);
        }
        _cutoverAsked = cutover || requests.Cutover;
        if (!_cutoverAsked)
        {
            // A withdrawn request: a later one is measured from its own moment.
            _cutoverReference = null;
            ReadyToCutOver = false;
        }
        return (requests.Stop, requests.Cutover, requests.Hold);
    }
}
