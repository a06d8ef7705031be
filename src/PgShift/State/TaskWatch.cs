using Npgsql;
using PgShift.Progress;

namespace PgShift.State;

/// <summary>Watching a task run by another process, through its state.</summary>
public static class TaskWatch
{
    /// <summary>Waits until the task's phase is one of <paramref name="phases"/>, or its last error shows up with no process streaming.</summary>
    public static async Task<TaskStatusReport> WaitForPhaseAsync(NpgsqlConnection target, string task, TaskPhase[] phases, Action<TaskStatusReport>? onTick, CancellationToken ct)
    {
        DateTime? unheldSince = null;
        while (true)
        {
            var report = await TaskStatusReport.LoadAsync(target, task, ct)
                ?? throw new PgShiftException($"Task {task} disappeared from the target.", "Check --target and --task.");
            onTick?.Invoke(report);
            if (phases.Contains(report.Phase))
            {
                return report;
            }
            var retrying = report.Stream?.RetryingUntil is { } until && until > DateTime.UtcNow;
            // A failure is the task's latest event: an error recorded before its last phase change or monitor tick is history.
            var running = await TaskLock.IsHeldAsync(target, task, ct);
            if (!retrying && report.LastErrorAt is { } at && at >= report.UpdatedAt && !running)
            {
                throw new TaskFailedException($"Task {task} failed: {report.LastError}", "See the error; 'pgshift migrate' resumes the task once the cause is fixed.");
            }
            // A process that lost the target retakes the task's lock within its retry backoff (15 s at most); one that
            // stays away that long has exited without recording why.
            unheldSince = running ? null : unheldSince ?? DateTime.UtcNow;
            if (!retrying && DateTime.UtcNow - unheldSince > TimeSpan.FromSeconds(20))
            {
                throw new TaskFailedException($"No pgshift process is running task {task} any more, and it has not reached {string.Join(" or ", phases.Select(p => p.Text()))} (phase {report.Phase.Text()}).",
                    "See the output of the 'pgshift migrate' process; 'pgshift migrate' resumes the task.");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }
    }
}
