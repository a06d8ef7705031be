using System.Globalization;

namespace PgShift.Torture;

/// <summary>A source server and the target server of one round, by their pg-servers.sh names.</summary>
public sealed record ServerPair(string Source, string Target)
{
    public static ServerPair Parse(string text) => text switch
    {
        "12-17" => new ServerPair("pg12", "pg17"),
        "15-17" => new ServerPair("pg15", "pg17"),
        "17-17" => new ServerPair("pg17", "pg17"),
        _ => throw new ArgumentException($"Unknown pair '{text}': use 12-17, 15-17 or 17-17."),
    };

    public override string ToString() => $"{Source[2..]}-{Target[2..]}";
}

/// <summary>What a torture run does. Every random choice of round i comes from <see cref="Seed"/> + i.</summary>
public sealed record TortureOptions
{
    public int Seed { get; init; } = Environment.TickCount & 0x7fffffff;
    public int Rounds { get; init; } = 2;
    public IReadOnlyList<ServerPair> Pairs { get; init; } = [ServerPair.Parse("12-17"), ServerPair.Parse("15-17")];
    /// <summary>Kills of the migrate process planned per round, over the schema, copy, post-data and stream phases.</summary>
    public int Kills { get; init; } = 4;
    /// <summary>Chance per round of a server restart (source or target) while the task runs; a second one at half that chance.</summary>
    public double RestartChance { get; init; } = 0.5;
    /// <summary>Chance per round that the cutover itself is interrupted by a SIGKILL.</summary>
    public double CutoverKillChance { get; init; } = 0.5;
    /// <summary>Seconds of writes in the stream phase, after the planned kills, before the writes stop and the cutover runs.</summary>
    public int StreamSeconds { get; init; } = 15;
    /// <summary>Size of the initial data (1: about 60,000 account rows and 20 MB in all).</summary>
    public double Scale { get; init; } = 1;
    public int Clients { get; init; } = 3;
    /// <summary>The walsender's logical_decoding_work_mem (PGSHIFT_DECODING_WORK_MEM), small so large transactions stream.</summary>
    public string DecodingWorkMem { get; init; } = "64kB";
    /// <summary>A round that has not finished after this long fails (a hung cutover, a task that never catches up).</summary>
    public TimeSpan RoundTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Keep the round's databases even when they are equal (they are always kept when they differ).</summary>
    public bool KeepDatabases { get; init; }
    public string WorkDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "pgshift-torture-runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
    /// <summary>pgshift.dll (run with dotnet) or the pgshift executable; default: the one built next to the harness.</summary>
    public string PgShift { get; init; } = Path.Combine(AppContext.BaseDirectory, "pgshift.dll");

    /// <summary>The options that shape a round, as command-line arguments (for the replay command).</summary>
    public string RoundArguments() => string.Create(CultureInfo.InvariantCulture,
        $"--kills {Kills} --restart-chance {RestartChance} --cutover-kill-chance {CutoverKillChance} --stream-seconds {StreamSeconds} --scale {Scale} --clients {Clients} --decoding-work-mem {DecodingWorkMem}");

    public const string Usage = """
        usage: PgShift.Torture [options]
          --seed N                 first round's seed (default: from the clock); round i uses N+i
          --rounds N               rounds to run (default 2); pairs alternate
          --pairs 12-17,15-17      server pairs (default both)
          --kills N                SIGKILLs of migrate planned per round (default 4)
          --restart-chance P       chance of a server restart per round (default 0.5)
          --cutover-kill-chance P  chance of a SIGKILL during the cutover (default 0.5)
          --stream-seconds N       writes in the stream phase before the cutover (default 15)
          --scale X                initial data size (default 1)
          --clients N              concurrent OLTP clients, plus one client of large transactions (default 3)
          --decoding-work-mem M    the walsender's logical_decoding_work_mem (default 64kB)
          --round-timeout-minutes N  (default 10)
          --work-dir DIR           logs of every pgshift process (default /tmp/pgshift-torture-runs/<time>)
          --pgshift PATH           pgshift.dll or executable (default: next to the harness)
          --keep                   keep the databases of rounds that were equal too
        servers: tests/servers/pg-servers.sh with PGSHIFT_TEST_DIR and PGSHIFT_PG12_PORT/PG15_PORT/PG17_PORT
        (they must be running; tests/torture/run.sh starts them). Exit code 0: no difference; 1: a round differed or failed.
        """;

    public static TortureOptions Parse(IReadOnlyList<string> args)
    {
        var o = new TortureOptions();
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double Dbl() => double.Parse(Next(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--seed" => o with { Seed = Int() },
                "--rounds" => o with { Rounds = Int() },
                "--pairs" => o with { Pairs = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(ServerPair.Parse).ToArray() },
                "--kills" => o with { Kills = Int() },
                "--restart-chance" => o with { RestartChance = Dbl() },
                "--cutover-kill-chance" => o with { CutoverKillChance = Dbl() },
                "--stream-seconds" => o with { StreamSeconds = Int() },
                "--scale" => o with { Scale = Dbl() },
                "--clients" => o with { Clients = Int() },
                "--decoding-work-mem" => o with { DecodingWorkMem = Next() },
                "--round-timeout-minutes" => o with { RoundTimeout = TimeSpan.FromMinutes(Dbl()) },
                "--work-dir" => o with { WorkDirectory = Path.GetFullPath(Next()) },
                "--pgshift" => o with { PgShift = Path.GetFullPath(Next()) },
                "--keep" => o with { KeepDatabases = true },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }
        return o;
    }
}
