using PgShift.Connections;

namespace PgShift.Settings;

/// <summary>
/// Builds a task's settings from what a command is given (its flags folded into the task file's form) and, for a task
/// that exists, what it started with: the selection, exclusions and renaming are the task's own; jobs, split threshold,
/// retry window and conflict policy given now win over the stored ones, which win over the defaults. Rate limits given
/// now replace the task's (kept in its state, which 'pgshift throttle' changes too); the metrics endpoint is the process's own.
/// </summary>
public static class TaskSettingsBuilder
{
    public static TaskSettings Build(ConnectionSpec source, ConnectionSpec target, string taskName, TaskFile given, TaskFile? stored = null)
    {
        var selectionFrom = stored ?? given;
        var selection = selectionFrom.ToSelection();
        selection.Validate();
        var types = given.Types is { Count: > 0 } t ? SettingValues.Types(string.Join(',', t)) : [.. SettingValues.AllTypes];
        var retryWindow = given.RetryWindow ?? stored?.RetryWindow;
        var splitMb = given.SplitThresholdMb ?? stored?.SplitThresholdMb;
        return new TaskSettings
        {
            Source = source,
            Target = target,
            TaskName = TaskName.Validate(taskName),
            Schema = types.Contains("schema"),
            Full = types.Contains("full"),
            Incremental = types.Contains("incremental"),
            Selection = selection,
            ExcludedColumns = selectionFrom.ToColumnExclusions(),
            Mapping = selectionFrom.ToNameMapping(),
            LargeObjects = selectionFrom.CopiesLargeObjects,
            Owners = selectionFrom.Owners ?? true,
            Jobs = (given.Jobs ?? stored?.Jobs) is { } jobs ? SettingValues.Jobs(jobs, "jobs") : TaskSettings.DefaultJobs,
            SplitThresholdBytes = (long)((splitMb is { } mb ? SettingValues.SplitThresholdMb(mb, "split_threshold_mb") : TaskSettings.DefaultSplitThresholdMb) * 1048576),
            RetryWindow = retryWindow is null ? TaskSettings.DefaultRetryWindow : SettingValues.Duration(retryWindow, "Retry window"),
            Conflicts = SettingValues.Conflicts(given.OnConflict ?? stored?.OnConflict),
            MaxCopyRate = given.MaxCopyRate is { } copyRate ? SettingValues.ByteRate(copyRate, "max_copy_rate") : null,
            MaxApplyRate = given.MaxApplyRate is { } applyRate ? SettingValues.ChangeRate(applyRate, "max_apply_rate") : null,
            Monitor = given.MetricsPort is { } port
                ? new MonitorEndpoint(SettingValues.Address(given.MetricsAddress ?? MonitorEndpoint.DefaultAddress, "metrics_address"), SettingValues.Port(port, "metrics_port"))
                : given.MetricsAddress is not null
                    ? throw new SettingsException("A metrics address comes without a port.", "Give the port too: --metrics-port 9187 (metrics_port: in a task file).")
                    : null,
            PrepareWayBack = (given.Reverse ?? stored?.Reverse) == true,
            StoredForm = (stored ?? given).ToStoredJson(),
        };
    }
}
