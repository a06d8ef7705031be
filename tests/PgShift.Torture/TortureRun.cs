using System.Globalization;
using System.Text;

namespace PgShift.Torture;

/// <summary>The rounds of a run and what they add up to.</summary>
public sealed class TortureRun(TortureOptions options, ServerSet servers)
{
    public static readonly string[] PhaseNames = ["none", "schema", "copy", "post-data", "stream", "cutover", "finished"];

    public List<RoundReport> Rounds { get; } = new();

    public bool Failed => Rounds.Count == 0 || Rounds.Any(r => r.Failed);

    /// <summary>Round i runs pair i mod the pairs with seed Seed + i.</summary>
    public static int RoundSeed(int seed, int round) => unchecked(seed + round) & 0x7fffffff;

    public async Task RunAsync()
    {
        Directory.CreateDirectory(options.WorkDirectory);
        Console.Out.WriteLine($"torture: {options.Rounds} round(s), seed {options.Seed}, pairs {string.Join(",", options.Pairs)}, logs in {options.WorkDirectory}");
        for (var i = 0; i < options.Rounds; i++)
        {
            var pair = options.Pairs[i % options.Pairs.Count];
            var round = new Round(options, servers, i, RoundSeed(options.Seed, i), pair);
            var report = await round.RunAsync();
            Rounds.Add(report);
            Console.Out.WriteLine(Line(report));
            if (report.Failed)
            {
                foreach (var d in report.Differences)
                {
                    Console.Out.WriteLine("  difference: " + d);
                }
                Console.Out.WriteLine($"  replay: {round.ReplayCommand}");
            }
            foreach (var a in report.Anomalies)
            {
                Console.Out.WriteLine("  anomaly: " + a);
            }
        }
        var summary = Summary();
        Console.Out.WriteLine(summary);
        await File.WriteAllTextAsync(Path.Combine(options.WorkDirectory, "summary.txt"), summary);
    }

    private static string Kills(IEnumerable<RoundReport> rounds)
    {
        var all = rounds.SelectMany(r => r.Kills).GroupBy(k => k.Key).ToDictionary(g => g.Key, g => g.Sum(k => k.Value));
        return string.Join(", ", PhaseNames.Concat(all.Keys.Except(PhaseNames)).Where(all.ContainsKey).Select(p => $"{p} {all[p]}"))
            + $" (total {all.Values.Sum()})";
    }

    private static string Line(RoundReport r) => string.Create(CultureInfo.InvariantCulture,
        $"round {r.Index} {r.Pair} seed {r.Seed}: {(r.Failed ? "FAILED" : "equal")}; kills {Kills([r])}; restarts {(r.Restarts.Count == 0 ? "none" : string.Join(", ", r.Restarts))}; ~{r.ChangesApplied:N0} changes applied; {r.TablesCompared} tables, {r.RowsCompared:N0} rows compared; {r.Duration.TotalSeconds:0} s{(r.SlotStats.Length > 0 ? "; slot: " + r.SlotStats : "")}{(r.Error is null ? "" : $"; error: {r.Error}")}");

    public string Summary()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"torture summary: {Rounds.Count} round(s) ({string.Join(", ", Rounds.GroupBy(r => r.Pair.ToString()).Select(g => $"{g.Key}: {g.Count()}"))}), seeds {string.Join(",", Rounds.Select(r => r.Seed))}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  kills per phase: {Kills(Rounds)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  server restarts: {Rounds.Sum(r => r.Restarts.Count)} ({Rounds.SelectMany(r => r.Restarts).Count(x => x.StartsWith("source", StringComparison.Ordinal))} source, {Rounds.SelectMany(r => r.Restarts).Count(x => x.StartsWith("target", StringComparison.Ordinal))} target)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  changes applied (task state, summed over stream sessions): ~{Rounds.Sum(r => r.ChangesApplied):N0}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  compared: {Rounds.Sum(r => r.TablesCompared)} tables, {Rounds.Sum(r => r.RowsCompared):N0} rows");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  differences: {Rounds.Sum(r => r.Differences.Count)} table(s) in {Rounds.Count(r => r.Differences.Count > 0)} round(s); rounds failed otherwise: {Rounds.Count(r => r.Error is not null)}; anomalies: {Rounds.Sum(r => r.Anomalies.Count)}");
        foreach (var r in Rounds.Where(r => r.Failed))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  FAILED round {r.Index} {r.Pair} seed {r.Seed}: {r.Error ?? string.Join("; ", r.Differences.Select(d => d.Split('\n')[0]))} (logs {r.LogDirectory})");
        }
        sb.Append(Failed ? "torture: FAILED" : "torture: passed");
        return sb.ToString();
    }
}
