using System.Globalization;
using System.Text;
using PgShift.Copy;

namespace PgShift.Cli;

/// <summary>
/// Shows the copy's progress: on a terminal, a block redrawn in place (tables largest first, rows, bytes,
/// throughput, ETA, and the total); when output is not a terminal, plain lines every few seconds.
/// </summary>
internal sealed class CopyProgressRenderer(CopyProgress progress, TextWriter output, bool terminal) : IAsyncDisposable
{
    private const int MaxTableLines = 12;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _linesDrawn;

    public void Start() => _loop = Task.Run(LoopAsync);

    private async Task LoopAsync()
    {
        var interval = terminal ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(interval, _stop.Token);
                Draw();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Draw()
    {
        var lines = Render(progress, terminal);
        if (terminal)
        {
            var sb = new StringBuilder();
            if (_linesDrawn > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"\u001b[{_linesDrawn}A");
            }
            foreach (var line in lines)
            {
                sb.Append("\u001b[2K").Append(line).Append('\n');
            }
            output.Write(sb.ToString());
            _linesDrawn = lines.Count;
        }
        else
        {
            foreach (var line in lines)
            {
                output.WriteLine(line);
            }
        }
        output.Flush();
    }

    internal static List<string> Render(CopyProgress p, bool terminal)
    {
        var lines = new List<string>();
        var active = p.Tables.Where(t => !t.Skipped && (terminal || t.StartedAt is not null && !t.Done)).OrderByDescending(t => t.EstimatedBytes).ToList();
        foreach (var t in active.Take(MaxTableLines))
        {
            var state = t.Done ? "done" : t.StartedAt is null ? "waiting" : t.Eta is { } eta ? $"ETA {Format(eta)}" : "copying";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"copy  {Short(t.Table.ToString()),-40} {t.Rows,12:N0} rows {t.Bytes / 1048576.0,9:0.0} MB {t.BytesPerSecond / 1048576.0,7:0.0} MB/s  {state}"));
        }
        if (active.Count > MaxTableLines)
        {
            lines.Add($"      ... and {active.Count - MaxTableLines} more tables");
        }
        var done = p.Tables.Count(t => t.Done);
        var left = p.EstimatedBytes - p.Bytes;
        var rate = p.Seconds > 0 ? p.Bytes / p.Seconds : 0;
        var etaAll = rate > 0 && left > 0 ? $", ETA {Format(TimeSpan.FromSeconds(left / rate))}" : "";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"copy  total: {done}/{p.Tables.Count} tables, {p.Rows:N0} rows, {p.Bytes / 1048576.0:0.0} MB, {p.MegabytesPerSecond:0.0} MB/s, {p.Seconds:0}s elapsed{etaAll}"));
        return lines;
    }

    private static string Short(string s) => s.Length <= 40 ? s : string.Concat(s.AsSpan(0, 37), "...");

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.Seconds}s";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        Draw();
        _stop.Dispose();
    }
}
