using System.Globalization;
using PgShift.Progress;

namespace PgShift.Cli.Monitoring;

/// <summary>
/// What the status page shows, as the JSON its script reads (/status.json): the task's progress in the words and figures
/// of the live display (<see cref="ProgressText"/>). Nothing secret: no server, user or password, and errors are redacted.
/// </summary>
internal static class StatusView
{
    /// <summary>Tables listed on the page: those copying first, then waiting, then done.</summary>
    public const int MaxTables = 30;

    public static object From(TaskProgress p, IReadOnlyList<DelayHistory.Sample> history, DateTime now) => new
    {
        task = p.Task,
        phase = p.Phase?.Text() ?? "starting",
        at = now.ToString("u", CultureInfo.InvariantCulture),
        limits = ProgressText.Limits(p.Limits),
        copy = p.Copy is { } copy ? Copy(copy) : null,
        stream = p.Stream is { } s ? new
        {
            state = ProgressText.StreamState(s),
            delaySeconds = s.DelaySeconds,
            delayBytes = s.DelayBytes,
            notDelayed = s.NotDelayed,
            changes = s.ChangesApplied.ToString("N0", CultureInfo.InvariantCulture),
            rate = string.Create(CultureInfo.InvariantCulture, $"{s.ChangesPerSecond ?? 0:N0} changes/s"),
            retained = string.Create(CultureInfo.InvariantCulture, $"{s.SlotRetainedBytes / 1048576.0:0.0} MB"),
        } : null,
        // Seconds before now, delay in seconds, delay in bytes.
        delay = history.Select(h => new[] { Math.Round((h.At - now).TotalSeconds, 1), Math.Round(h.Seconds, 2), h.Bytes }),
        incidents = new
        {
            retries = p.Incidents.Retries,
            errors = p.Incidents.Errors,
            recent = p.Incidents.Recent.Reverse().Select(i => new
            {
                at = i.At.ToString("u", CultureInfo.InvariantCulture),
                what = i.What,
                message = i.Message,
                retried = i.Retried,
            }),
        },
    };

    private static object Copy(CopySnapshot c)
    {
        var listed = c.Tables.Where(t => t.State != TableCopyState.Skipped)
            .OrderBy(t => t.State switch { TableCopyState.Copying => 0, TableCopyState.Waiting => 1, _ => 2 })
            .ThenByDescending(t => t.EstimatedBytes).ToList();
        return new
        {
            summary = string.Create(CultureInfo.InvariantCulture,
                $"{c.TablesDone}/{c.Tables.Count} tables, {c.Bytes / 1048576.0:0.0} of {c.EstimatedBytes / 1048576.0:0.0} MB, {c.BytesPerSecond / 1048576.0:0.0} MB/s")
                + (c.Eta is { } eta && c.TablesDone < c.Tables.Count ? $", ETA {ProgressText.Duration(eta)}" : ""),
            percent = Percent(c.Bytes, c.EstimatedBytes, c.TablesDone == c.Tables.Count),
            tables = listed.Take(MaxTables).Select(t => new
            {
                table = t.Table,
                state = t.State switch { TableCopyState.Copying => "copying", TableCopyState.Waiting => "waiting", _ => "done" },
                percent = Percent(t.Bytes, t.EstimatedBytes, t.State is TableCopyState.Done),
                size = string.Create(CultureInfo.InvariantCulture, $"{t.Bytes / 1048576.0:0.0} of {Math.Max(t.Bytes, t.EstimatedBytes) / 1048576.0:0.0} MB"),
                rate = t.State is TableCopyState.Copying ? string.Create(CultureInfo.InvariantCulture, $"{t.BytesPerSecond / 1048576.0:0.0} MB/s") : "",
                eta = t.Eta is { } left ? ProgressText.Duration(left) : "",
            }),
            more = Math.Max(0, listed.Count - MaxTables),
        };
    }

    /// <summary>Whole percents, never 100 before the end: the size on disk only estimates COPY's output.</summary>
    private static int Percent(long done, long estimated, bool finished)
        => finished ? 100 : estimated <= 0 ? 0 : (int)Math.Min(99, 100.0 * done / estimated);
}
