using Prometheus;
using PgShift.Progress;

namespace PgShift.Cli.Monitoring;

/// <summary>
/// The task's progress as Prometheus metrics (prometheus-net), every one labelled with the task: set from the progress
/// snapshot of the moment each time they are collected, so they say what `pgshift status` and the live display say.
/// </summary>
internal sealed class ProgressMetrics
{
    private static readonly string[] TaskLabel = ["task"];

    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    private readonly Gauge _phase;
    private readonly Gauge _tables, _tablesDone, _bytes, _bytesEstimated, _rows, _copyRate, _copyLimit;
    private readonly Counter _changes, _transactions, _retries, _errors;
    private readonly Gauge _applyRate, _applyLimit, _delaySeconds, _delayBytes, _caughtUp, _connected, _retained;

    public ProgressMetrics(Func<TaskProgress?> current)
    {
        var f = Metrics.WithCustomRegistry(Registry);
        Gauge G(string name, string help) => f.CreateGauge(name, help, new GaugeConfiguration { LabelNames = TaskLabel });
        Counter C(string name, string help) => f.CreateCounter(name, help, new CounterConfiguration { LabelNames = TaskLabel });
        _phase = f.CreateGauge("pgshift_phase", "1 for the phase the task is in (schema, copy, post-data, stream, cutover, finished, stopped), 0 for the others.",
            new GaugeConfiguration { LabelNames = ["task", "phase"] });
        _tables = G("pgshift_copy_tables", "Tables (leaf partitions) the full copy moves.");
        _tablesDone = G("pgshift_copy_tables_done", "Tables copied, by this run or an earlier one.");
        _bytes = G("pgshift_copy_bytes", "Bytes copied so far (COPY's output; a range copied again after a failure counts from zero again).");
        _bytesEstimated = G("pgshift_copy_bytes_estimated", "Bytes to copy in all: the tables' sizes on the source, or what a table copied so far when it outgrew its size.");
        _rows = G("pgshift_copy_rows", "Rows copied so far.");
        _copyRate = G("pgshift_copy_rate_bytes_per_second", "The copy's rate since it started, in bytes a second.");
        _copyLimit = G("pgshift_copy_rate_limit_bytes_per_second", "The copy's throttle (--max-copy-rate, pgshift throttle), in bytes a second read from the source; 0: no limit.");
        _changes = C("pgshift_stream_changes_applied_total", "Changes (rows inserted, updated, deleted; truncates) applied to the target.");
        _transactions = C("pgshift_stream_transactions_applied_total", "Source transactions applied to the target by this process.");
        _applyRate = G("pgshift_stream_apply_rate_changes_per_second", "Changes applied in the last second.");
        _applyLimit = G("pgshift_apply_rate_limit_changes_per_second", "The stream's throttle (--max-apply-rate, pgshift throttle), in changes a second; 0: no limit.");
        _delaySeconds = G("pgshift_stream_delay_seconds", "Age of the oldest change received and not yet applied; 0 when caught up.");
        _delayBytes = G("pgshift_stream_delay_bytes", "Source WAL flushed but not yet applied and acknowledged; 0 when caught up.");
        _caughtUp = G("pgshift_stream_caught_up", "1 when everything the source had flushed is applied.");
        _connected = G("pgshift_stream_connected", "1 while the stream is connected to the source and applying.");
        _retained = G("pgshift_source_wal_retained_bytes", "WAL the task's slot keeps on the source.");
        _retries = C("pgshift_retries_total", "Failures waited out and retried (lost connections, restarts) by this process.");
        _errors = C("pgshift_errors_total", "Failures that ended a run of the task (recorded as its last error) in this process.");
        Registry.AddBeforeCollectCallback(() =>
        {
            if (current() is { } progress)
            {
                Set(progress);
            }
        });
    }

    private void Set(TaskProgress p)
    {
        var task = p.Task;
        foreach (var phase in Enum.GetValues<TaskPhase>())
        {
            _phase.WithLabels(task, phase.Text()).Set(p.Phase == phase ? 1 : 0);
        }
        var copy = p.Copy;
        _tables.WithLabels(task).Set(copy?.Tables.Count ?? 0);
        _tablesDone.WithLabels(task).Set(copy?.TablesDone ?? 0);
        _bytes.WithLabels(task).Set(copy?.Bytes ?? 0);
        _bytesEstimated.WithLabels(task).Set(copy?.EstimatedBytes ?? 0);
        _rows.WithLabels(task).Set(copy?.Rows ?? 0);
        _copyRate.WithLabels(task).Set(copy?.BytesPerSecond ?? 0);
        _copyLimit.WithLabels(task).Set(p.Limits.CopyBytesPerSecond);
        _applyLimit.WithLabels(task).Set(p.Limits.ApplyChangesPerSecond);
        var stream = p.Stream;
        _changes.WithLabels(task).IncTo(stream?.ChangesApplied ?? 0);
        _transactions.WithLabels(task).IncTo(stream?.TransactionsApplied ?? 0);
        _applyRate.WithLabels(task).Set(stream?.ChangesPerSecond ?? 0);
        _delaySeconds.WithLabels(task).Set(stream?.DelaySeconds ?? 0);
        _delayBytes.WithLabels(task).Set(stream?.DelayBytes ?? 0);
        _caughtUp.WithLabels(task).Set(stream?.CaughtUp == true ? 1 : 0);
        _connected.WithLabels(task).Set(stream?.Link == StreamLink.Connected ? 1 : 0);
        _retained.WithLabels(task).Set(stream?.SlotRetainedBytes ?? 0);
        _retries.WithLabels(task).IncTo(p.Incidents.Retries);
        _errors.WithLabels(task).IncTo(p.Incidents.Errors);
    }
}
