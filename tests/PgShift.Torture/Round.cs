using System.Globalization;
using System.Text;
using Npgsql;

namespace PgShift.Torture;

/// <summary>What one round did and found.</summary>
public sealed class RoundReport(int index, int seed, ServerPair pair)
{
    public int Index { get; } = index;
    public int Seed { get; } = seed;
    public ServerPair Pair { get; } = pair;
    /// <summary>Kills of a pgshift process, by the task's phase read just before the kill ("none": no task yet).</summary>
    public Dictionary<string, int> Kills { get; } = new();
    public List<string> Events { get; } = new();
    public List<string> Restarts { get; } = new();
    public List<string> Differences { get; } = new();
    /// <summary>Things that are not a difference but deserve a look: a pgshift process that failed on its own, a retry.</summary>
    public List<string> Anomalies { get; } = new();
    public long ChangesApplied { get; set; }
    /// <summary>The slot's pg_stat_replication_slots figures (PostgreSQL 14+): transactions streamed and spilled by the source.</summary>
    public string SlotStats { get; set; } = "";
    public long RowsCompared { get; set; }
    public int TablesCompared { get; set; }
    public string Workload { get; set; } = "";
    public string? Error { get; set; }
    public TimeSpan Duration { get; set; }
    public string LogDirectory { get; set; } = "";
    public bool Failed => Error is not null || Differences.Count > 0;

    public void Kill(string phase, string how)
    {
        Kills[phase] = Kills.GetValueOrDefault(phase) + 1;
        Events.Add($"kill -9 {how} in phase {phase}");
    }
}

/// <summary>
/// One round: a fresh source and target database, seeded data and writes, the migrate process killed with SIGKILL at
/// planned moments of each phase (and servers restarted), then the writes stop, a cutover runs (perhaps killed too and
/// run again), and the harness compares every table by its own digests.
/// </summary>
public sealed class Round(TortureOptions options, ServerSet servers, int index, int seed, ServerPair pair)
{
    // Slots are server-wide: a task (and slot) name of its own per round, so a kept failed round blocks no other.
    private readonly string TaskName = $"torture_{seed}";
    private enum Kind { Kill, KillInLargeTransaction, RestartSource, RestartTarget }
    private sealed record Action(Kind Kind, string Phase, int DelayMs, int PauseMs);

    private readonly RoundReport _report = new(index, seed, pair);
    private readonly string _sourceDb = $"torture_{seed}_src";
    private readonly string _targetDb = $"torture_{seed}_tgt";
    private readonly List<PgShiftProcess> _processes = new();
    private string _dir = "";
    private TaskMonitor? _monitor;

    public string ReplayCommand => $"bash tests/torture/run.sh --seed {seed} --rounds 1 --pairs {pair} {options.RoundArguments()}";

    private void Log(string message)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss} round {index} [{pair} seed {seed}] {message}";
        Console.Out.WriteLine(line);
        File.AppendAllText(Path.Combine(_dir, "round.log"), line + "\n");
    }

    public async Task<RoundReport> RunAsync()
    {
        var started = DateTime.UtcNow;
        _dir = Path.Combine(options.WorkDirectory, $"round-{index:000}-{pair}-seed-{seed}");
        Directory.CreateDirectory(_dir);
        _report.LogDirectory = _dir;
        using var timeout = new CancellationTokenSource(options.RoundTimeout);
        Workload? workload = null;
        try
        {
            var rng = new Random(seed);
            await PrepareAsync(rng, timeout.Token);
            var plan = Plan(rng);
            var cutoverKill = rng.NextDouble() < options.CutoverKillChance;
            var cutoverKillsMigrate = rng.Next(3) != 0;
            var cutoverDelay = rng.Next(0, 400);
            Log($"plan: {string.Join("; ", plan.Select(a => $"{a.Kind} in {a.Phase} +{a.DelayMs} ms"))}; cutover kill: " +
                (cutoverKill ? (cutoverKillsMigrate ? "migrate, while cutover waits" : "the cutover command, running alone") : "no"));
            workload = new Workload(servers.ConnectionString(pair.Source, _sourceDb), rng.Next(), options.Clients, options.Scale);
            workload.Start();
            _monitor = new TaskMonitor(servers.ConnectionString(pair.Target, _targetDb), TaskName);

            PgShiftProcess? migrate = null;
            foreach (var action in plan)
            {
                migrate = await EnsureMigrateAsync(migrate, timeout.Token);
                migrate = await WaitForPhaseAsync(action.Phase, migrate, timeout.Token);
                if (action.Kind == Kind.KillInLargeTransaction)
                {
                    var until = DateTime.UtcNow.AddSeconds(30);
                    while (!workload.LargeTransactionOpenAfterRollbackTo && DateTime.UtcNow < until)
                    {
                        await Task.Delay(10, timeout.Token);
                    }
                }
                await Task.Delay(action.DelayMs, timeout.Token);
                var phase = await _monitor.ReadAsync();
                switch (action.Kind)
                {
                    case Kind.Kill or Kind.KillInLargeTransaction:
                        if (migrate.HasExited)
                        {
                            continue;
                        }
                        var inLarge = workload.LargeTransactionOpenAfterRollbackTo;
                        migrate.KillHard();
                        await migrate.WaitAsync(TimeSpan.FromSeconds(30));
                        _report.Kill(phase, "migrate" + (inLarge ? " (large transaction open after ROLLBACK TO)" : ""));
                        Log($"killed migrate in phase {phase}{(inLarge ? ", a large transaction open after a rollback to a savepoint" : "")}");
                        migrate = null;
                        await Task.Delay(action.PauseMs, timeout.Token);
                        break;
                    case Kind.RestartSource or Kind.RestartTarget:
                        var server = action.Kind == Kind.RestartSource ? pair.Source : pair.Target;
                        Log($"restarting {server} (phase {phase})");
                        await servers.RestartAsync(server);
                        _report.Restarts.Add($"{(action.Kind == Kind.RestartSource ? "source" : "target")} {server} in {phase}");
                        _report.Events.Add($"restart {server} in phase {phase}");
                        break;
                }
            }
            migrate = await EnsureMigrateAsync(migrate, timeout.Token);
            migrate = await WaitForPhaseAsync("stream", migrate, timeout.Token);
            Log($"streaming; writes go on for {options.StreamSeconds} s");
            await Task.Delay(TimeSpan.FromSeconds(options.StreamSeconds), timeout.Token);
            await workload.StopAsync();
            _report.Workload = workload.Summary();
            Log("writes stopped: " + _report.Workload);

            await CutoverAsync(migrate, cutoverKill, cutoverKillsMigrate, cutoverDelay, timeout.Token);
            _report.ChangesApplied = _monitor.ChangesApplied;
            await CompareAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            _report.Error = $"the round did not finish within {options.RoundTimeout} (task phase {_monitor?.Phase ?? "?"})";
        }
        catch (Exception ex) when (ex is RoundFailedException or NpgsqlException or InvalidOperationException or IOException)
        {
            _report.Error = ex.Message;
        }
        finally
        {
            if (workload is not null)
            {
                await workload.StopAsync();
                if (_report.Workload.Length == 0)
                {
                    _report.Workload = workload.Summary();
                }
            }
            foreach (var p in _processes)
            {
                p.Dispose();
            }
            if (_monitor is not null)
            {
                _report.ChangesApplied = Math.Max(_report.ChangesApplied, _monitor.ChangesApplied);
                await _monitor.DisposeAsync();
            }
        }
        _report.Duration = DateTime.UtcNow - started;
        if (_report.Failed)
        {
            Log($"FAILED: {_report.Error ?? $"{_report.Differences.Count} table(s) differ"}");
            Log($"databases kept: source {pair.Source}/{_sourceDb}, target {pair.Target}/{_targetDb}; logs in {_dir}");
            Log($"replay: {ReplayCommand}");
        }
        else if (!options.KeepDatabases)
        {
            await DropDatabasesAsync();
        }
        return _report;
    }

    /// <summary>The round's plan, drawn from its seed: kills in each phase, perhaps server restarts, in phase order.</summary>
    private List<Action> Plan(Random rng)
    {
        var actions = new List<Action>();
        string[] phases = ["schema", "schema", "copy", "copy", "copy", "post-data", "post-data", "stream", "stream", "stream"];
        for (var i = 0; i < options.Kills; i++)
        {
            var phase = phases[rng.Next(phases.Length)];
            var delay = phase switch { "schema" => rng.Next(0, 200), "copy" => rng.Next(0, (int)(1500 * Math.Min(1, options.Scale))), "post-data" => rng.Next(0, 150), _ => rng.Next(0, 6000) };
            var kind = phase == "stream" && rng.Next(2) == 0 ? Kind.KillInLargeTransaction : Kind.Kill;
            actions.Add(new Action(kind, phase, kind == Kind.KillInLargeTransaction ? delay / 8 : delay, rng.Next(0, 3000)));
        }
        for (var chance = options.RestartChance; rng.NextDouble() < chance; chance /= 2)
        {
            string[] restartPhases = ["copy", "post-data", "stream", "stream"];
            actions.Add(new Action(rng.Next(2) == 0 ? Kind.RestartSource : Kind.RestartTarget, restartPhases[rng.Next(restartPhases.Length)], rng.Next(0, 3000), 0));
        }
        return actions.OrderBy(a => TaskMonitor.Rank(a.Phase)).ToList();
    }

    private async Task PrepareAsync(Random rng, CancellationToken ct)
    {
        await DropDatabasesAsync();
        await AdminAsync(pair.Source, $"CREATE DATABASE {_sourceDb} TEMPLATE template0 ENCODING 'UTF8'");
        await AdminAsync(pair.Target, $"CREATE DATABASE {_targetDb} TEMPLATE template0 ENCODING 'UTF8'");
        await using var src = new NpgsqlConnection(servers.ConnectionString(pair.Source, _sourceDb));
        await src.OpenAsync(ct);
        await SourceSchema.CreateAsync(src, rng.Next(), options.Scale, ct);
        Log($"source {pair.Source}/{_sourceDb} loaded (scale {options.Scale.ToString(CultureInfo.InvariantCulture)}), target {pair.Target}/{_targetDb}");
    }

    private async Task DropDatabasesAsync()
    {
        foreach (var (server, db) in new[] { (pair.Source, _sourceDb), (pair.Target, _targetDb) })
        {
            // A walsender that was just terminated may hold its slot a moment longer: try again.
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await AdminAsync(server,
                        $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()",
                        $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{db}' AND NOT active",
                        $"DROP DATABASE IF EXISTS {db}");
                    break;
                }
                catch (PostgresException) when (attempt < 20)
                {
                    await Task.Delay(500);
                }
            }
        }
    }

    private async Task AdminAsync(string server, params string[] statements)
    {
        await using var c = new NpgsqlConnection(servers.ConnectionString(server, "postgres"));
        await c.OpenAsync();
        foreach (var statement in statements)
        {
            await using var cmd = new NpgsqlCommand(statement, c);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private string[] CommonArgs =>
        ["--source", servers.KeywordValue(pair.Source, _sourceDb), "--target", servers.KeywordValue(pair.Target, _targetDb), "--task", TaskName, "--verbose"];

    private PgShiftProcess Start(string command, params string[] extra)
    {
        var args = new List<string> { command };
        args.AddRange(CommonArgs);
        args.AddRange(extra);
        var p = PgShiftProcess.Start(options.PgShift, args, Path.Combine(_dir, $"{_processes.Count:00}-{command}.log"),
            pair.Source == "pg12"
                ? new Dictionary<string, string> { ["PGSHIFT_TRACE"] = "1" } // logical_decoding_work_mem came with PostgreSQL 13
                : new Dictionary<string, string> { ["PGSHIFT_DECODING_WORK_MEM"] = options.DecodingWorkMem, ["PGSHIFT_TRACE"] = "1" });
        _processes.Add(p);
        return p;
    }

    /// <summary>A running migrate process: the one given, or a new one. A process that ended by itself is an anomaly.</summary>
    private async Task<PgShiftProcess> EnsureMigrateAsync(PgShiftProcess? migrate, CancellationToken ct)
    {
        if (migrate is { HasExited: false })
        {
            return migrate;
        }
        if (migrate is not null)
        {
            await migrate.WaitAsync(TimeSpan.FromSeconds(5));
            _report.Anomalies.Add($"migrate ended by itself with exit code {migrate.ExitCode} in phase {_monitor!.Phase} (log {migrate.LogPath}):\n{Indent(migrate.Tail)}");
            Log($"migrate ended by itself with exit code {migrate.ExitCode}: see {migrate.LogPath}");
            if (_processes.Count(p => !p.Killed && p.HasExited && p.ExitCode != 0) >= 3)
            {
                throw new RoundFailedException($"migrate failed three times on its own; last: {migrate.Tail}");
            }
            await Task.Delay(2000, ct);
        }
        return Start("migrate", "--jobs", "2", "--retry-window", "5m");
    }

    /// <summary>Waits until the task reaches <paramref name="phase"/> (or a later one), restarting migrate if it ends.</summary>
    private async Task<PgShiftProcess> WaitForPhaseAsync(string phase, PgShiftProcess migrate, CancellationToken ct)
    {
        var rank = TaskMonitor.Rank(phase);
        while (_monitor!.CurrentRank < rank)
        {
            if (migrate.HasExited)
            {
                migrate = await EnsureMigrateAsync(migrate, ct);
            }
            await Task.Delay(10, ct);
        }
        return migrate;
    }

    private async Task CutoverAsync(PgShiftProcess migrate, bool kill, bool killMigrate, int delayMs, CancellationToken ct)
    {
        if (kill && !killMigrate)
        {
            // The cutover runs the stream itself when no migrate process does: end this one the hard way first.
            var phase = await _monitor!.ReadAsync();
            migrate.KillHard();
            await migrate.WaitAsync(TimeSpan.FromSeconds(30));
            _report.Kill(phase, "migrate before the cutover");
            Log($"killed migrate in phase {phase}, so that the cutover command runs the stream itself");
        }
        Log("cutover");
        var cutover = Start("cutover", "--no-verify", "--retry-window", "5m");
        // A cutover waiting on a migrate process that is killed fails (after 20 s): expected, not an anomaly.
        var expectFailure = false;
        if (kill)
        {
            var victim = killMigrate ? migrate : cutover;
            var until = DateTime.UtcNow.AddMinutes(3);
            while (_monitor!.CurrentRank < TaskMonitor.Rank("cutover") && !victim.HasExited && DateTime.UtcNow < until)
            {
                await Task.Delay(5, ct);
            }
            await Task.Delay(delayMs, ct);
            var phase = await _monitor.ReadAsync();
            if (!victim.HasExited && phase != "finished")
            {
                victim.KillHard();
                await victim.WaitAsync(TimeSpan.FromSeconds(30));
                expectFailure = killMigrate;
                _report.Kill(phase, killMigrate ? "migrate while the cutover command waited for it" : "the cutover command (running the stream itself)");
                Log($"killed {(killMigrate ? "migrate, while the cutover command waited for it," : "the cutover command")} in phase {phase}");
            }
            else
            {
                Log($"cutover kill missed: the task reached {phase} first");
            }
        }
        var attempts = 1;
        while (true)
        {
            var code = await cutover.WaitAsync(TimeSpan.FromMinutes(5));
            if (code is null)
            {
                _report.Anomalies.Add($"cutover still running after 5 minutes (log {cutover.LogPath})");
                cutover.KillHard();
            }
            else if (code != 0 && !cutover.Killed && !expectFailure)
            {
                _report.Anomalies.Add($"cutover exited with code {code} in phase {_monitor!.Phase} (log {cutover.LogPath}):\n{Indent(cutover.Tail)}");
            }
            expectFailure = false;
            if (!migrate.HasExited && !migrate.Killed)
            {
                // Its cutover command was killed: the request stands, and the migrate process cuts over by itself.
                await migrate.WaitAsync(TimeSpan.FromMinutes(3));
            }
            if (await _monitor!.ReadAsync() == "finished")
            {
                break;
            }
            if (++attempts > 4)
            {
                throw new RoundFailedException($"the task is not finished after {attempts - 1} cutover commands (phase {_monitor.Phase}); last output:\n{cutover.Tail}");
            }
            Log($"cutover again (attempt {attempts}, phase {_monitor.Phase})");
            cutover = Start("cutover", "--no-verify", "--retry-window", "5m");
        }
        if (!migrate.HasExited)
        {
            var exit = await migrate.WaitAsync(TimeSpan.FromSeconds(60));
            if (exit is not 0)
            {
                _report.Anomalies.Add($"migrate did not exit 0 after the cutover ({exit?.ToString(CultureInfo.InvariantCulture) ?? "still running"}; log {migrate.LogPath})");
            }
        }
        else if (!migrate.Killed && migrate.ExitCode != 0)
        {
            _report.Anomalies.Add($"migrate exited with code {migrate.ExitCode} during the cutover (log {migrate.LogPath}):\n{Indent(migrate.Tail)}");
        }
        Log($"cut over; task phase {_monitor.Phase}");
    }

    private async Task CompareAsync(CancellationToken ct)
    {
        await using var src = new NpgsqlConnection(servers.ConnectionString(pair.Source, _sourceDb));
        await using var tgt = new NpgsqlConnection(servers.ConnectionString(pair.Target, _targetDb));
        await src.OpenAsync(ct);
        await tgt.OpenAsync(ct);
        foreach (var (table, key) in await Digest.TablesAsync(src, ct))
        {
            var s = await Digest.OfAsync(src, table, ct);
            var t = await Digest.OfAsync(tgt, table, ct);
            _report.TablesCompared++;
            _report.RowsCompared += s!.Rows;
            if (t is null)
            {
                _report.Differences.Add($"{table}: missing on the target ({s.Rows} rows on the source)");
            }
            else if (s != t)
            {
                var why = await Digest.ExplainAsync(src, tgt, table, key, ct);
                _report.Differences.Add($"{table}: source {s.Rows} rows md5 {s.Md5}, target {t.Rows} rows md5 {t.Md5}\n{why}");
            }
        }
        if (await ScalarAsync(src, "SELECT current_setting('server_version_num')::int >= 140000") is true)
        {
            _report.SlotStats = (string)(await ScalarAsync(src,
                "SELECT format('%s transactions streamed, %s spilled', stream_txns, spill_txns) FROM pg_stat_replication_slots WHERE slot_name = 'pgshift_' || $1", TaskName) ?? "");
        }
        Log(_report.Differences.Count == 0
            ? $"equal: {_report.TablesCompared} tables, {_report.RowsCompared:N0} rows"
            : $"DIFFERENT: {string.Join("\n", _report.Differences)}");
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection c, string sql, string? parameter = null)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        if (parameter is not null)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        return await cmd.ExecuteScalarAsync();
    }

    private static string Indent(string text) => string.Join('\n', text.Split('\n').Select(l => "    " + l));
}

public sealed class RoundFailedException(string message) : Exception(message);
