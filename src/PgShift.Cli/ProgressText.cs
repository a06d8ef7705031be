using System.Globalization;
using PgShift.Progress;

namespace PgShift.Cli;

/// <summary>The words and numbers of progress, written one way for the live display, `pgshift status` and `pgshift cutover`.</summary>
internal static class ProgressText
{
    /// <summary>A time left: 7s, 3m05s, 1h02m.</summary>
    public static string Duration(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}h{t.Minutes:00}m")
        : t.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes}m{t.Seconds:00}s") : string.Create(CultureInfo.InvariantCulture, $"{t.Seconds}s");

    public static string Delay(StreamSnapshot s) => string.Create(CultureInfo.InvariantCulture, $"delay {s.DelaySeconds:0.0} s, {s.DelayBytes / 1024.0:N0} KB");

    /// <summary>Where the stream stands: retrying, not running, connecting, paused by a verify, not delayed, or its delay.</summary>
    public static string StreamState(StreamSnapshot s) => s.State switch
    {
        Progress.StreamState.Retrying => string.Create(CultureInfo.InvariantCulture, $"retrying (until {s.RetryingUntil:u})") + (s.LastError is { } e ? $": {e}" : ""),
        Progress.StreamState.NotRunning => "not running",
        Progress.StreamState.Connecting => "connecting",
        Progress.StreamState.Paused => $"paused by a verify at {s.PausedAt}, {Delay(s)}",
        Progress.StreamState.NotDelayed => "not delayed",
        _ => Delay(s),
    };

    /// <summary>The live display's line of the stream.</summary>
    public static string StreamLine(StreamSnapshot s) => "stream  " + StreamState(s) + s.State switch
    {
        Progress.StreamState.Paused => string.Create(CultureInfo.InvariantCulture, $" ({Plural.Of(s.ChangesApplied, "change")} applied)"),
        Progress.StreamState.NotDelayed or Progress.StreamState.Delayed
            => string.Create(CultureInfo.InvariantCulture, $" ({Plural.Of(s.ChangesApplied, "change")} applied, {s.ChangesPerSecond ?? 0:N0}/s)"),
        _ => "",
    };

    /// <summary>The live display's block of the copy: tables largest first (on a terminal every one, else those copying), then the total.</summary>
    public static List<string> CopyLines(CopySnapshot p, bool terminal, int maxTableLines = 12)
    {
        var lines = new List<string>();
        var active = p.Tables.Where(t => t.State != TableCopyState.Skipped && (terminal || t.State == TableCopyState.Copying))
            .OrderByDescending(t => t.EstimatedBytes).ToList();
        foreach (var t in active.Take(maxTableLines))
        {
            var state = t.State switch
            {
                TableCopyState.Done => "done",
                TableCopyState.Waiting => "waiting",
                _ => t.Eta is { } eta ? $"ETA {Duration(eta)}" : "copying",
            };
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"copy  {Short(t.Table),-40} {t.Rows,12:N0} rows {t.Bytes / 1048576.0,9:0.0} MB {t.BytesPerSecond / 1048576.0,7:0.0} MB/s  {state}"));
        }
        if (active.Count > maxTableLines)
        {
            lines.Add($"      ... and {active.Count - maxTableLines} more tables");
        }
        if (p.LargeObjects is { } lobs)
        {
            lines.Add("copy  " + LargeObjects(lobs));
        }
        var etaAll = p.Eta is { } all ? $", ETA {Duration(all)}" : "";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"copy  total: {p.TablesDone}/{Plural.Of(p.Tables.Count, "table")}, {Plural.Of(p.Rows, "row")}, {p.Bytes / 1048576.0:0.0} MB, {p.BytesPerSecond / 1048576.0:0.0} MB/s, {p.Seconds:0}s elapsed{etaAll}"));
        return lines;
    }

    /// <summary>The large objects' pass: objects and bytes done of all, rate, and time left.</summary>
    public static string LargeObjects(LargeObjectsSnapshot p) => string.Create(CultureInfo.InvariantCulture,
        $"large objects: {p.ObjectsDone:N0}/{Plural.Of(p.Objects, "object")}, {p.BytesDone / 1048576.0:0.0} MB of {p.Bytes / 1048576.0:0.0} MB, {p.BytesPerSecond / 1048576.0:0.0} MB/s")
        + (p.Finished ? ", done" : p.Eta is { } eta ? $", ETA {Duration(eta)}" : "");

    /// <summary>`pgshift status`'s lines of the copy: the total, then each table copying.</summary>
    public static List<string> CopyStatus(CopySnapshot p)
    {
        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"copy     {p.TablesDone}/{Plural.Of(p.Tables.Count, "table")}, {Plural.Of(p.Rows, "row")}, {p.Bytes / 1048576.0:0.0} MB"),
        };
        foreach (var t in p.Tables.Where(t => t.State == TableCopyState.Copying))
        {
            var eta = t.Eta is { } left ? $", ETA {Duration(left)}" : "";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  copying {t.Table}: {t.Rows:N0} rows, {t.Bytes / 1048576.0:0.0} MB, {t.BytesPerSecond / 1048576.0:0.0} MB/s{eta}"));
        }
        return lines;
    }

    /// <summary>`pgshift status`'s line of the changes staged on the target while the tables copy.</summary>
    /// <param name="streamRunning">The stream runs: after the copy, it is applying them (the stream line says how far behind it is).</param>
    public static string StagingStatus(State.StagingStatus s, bool streamRunning = false) => string.Create(CultureInfo.InvariantCulture,
        $"staged   {Plural.Of(s.Changes, "change")} ({s.Bytes / 1048576.0:0.0} MB on the target){(s.Applied > 0 ? $", {s.Applied:N0} applied to the tables already copied" : "")}{(s.Running ? $"; the slot keeps {s.SlotRetainedBytes / 1048576.0:0.0} MB of WAL on the source" : streamRunning ? ", being applied by the stream" : ", waiting to be applied")}");

    /// <summary>`pgshift status`'s line of the stream.</summary>
    public static string StreamStatus(StreamSnapshot s, bool slotDropped = false) => string.Create(CultureInfo.InvariantCulture,
        $"stream   {(slotDropped ? "ended" : StreamState(s))}; {Plural.Of(s.ChangesApplied, "change")} applied up to {s.AppliedLsn ?? "-"}; {(slotDropped ? "its slot is dropped" : $"slot keeps {s.SlotRetainedBytes / 1048576.0:0.0} MB of WAL")}");

    /// <summary>The throttles in force: "copy 50 MB/s, apply 1,000 changes/s", "no limit" for either without one.</summary>
    public static string Limits(RateLimits l) => string.Create(CultureInfo.InvariantCulture,
        $"copy {(l.CopyBytesPerSecond > 0 ? ByteRate(l.CopyBytesPerSecond) : "no limit")}, apply {(l.ApplyChangesPerSecond > 0 ? $"{l.ApplyChangesPerSecond:#,0.##} changes/s" : "no limit")}");

    /// <summary>A rate in bytes a second in the unit it was most likely given in (kB = 1024 bytes, as PostgreSQL counts): 500 kB/s, 50 MB/s, 1.5 GB/s.</summary>
    public static string ByteRate(double bytesPerSecond) => bytesPerSecond switch
    {
        >= 1 << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond / (1 << 30):0.##} GB/s"),
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond / (1 << 20):0.##} MB/s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytesPerSecond / 1024:0.##} kB/s"),
    };

    private static string Short(string s) => s.Length <= 40 ? s : string.Concat(s.AsSpan(0, 37), "...");
}
