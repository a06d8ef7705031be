using System.CommandLine;
using System.Globalization;
using System.CommandLine.Invocation;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Tasks;

namespace PgShift.Cli;

/// <summary>How a command runs its tasks when it works on several databases at once.</summary>
internal enum DatabaseRun
{
    /// <summary>migrate: creates the databases the target lacks; --parallel-tasks tasks copy at once, and one that streams frees its place.</summary>
    Migrate,
    /// <summary>cutover, stop: every task at once (each waits for its own stream).</summary>
    AllAtOnce,
    /// <summary>verify, cleanup: --parallel-tasks tasks at once.</summary>
    Parallel,
    /// <summary>status: one after the other, so that each task's lines stay together.</summary>
    OneByOne,
}

/// <summary>
/// <c>--all-databases</c>, <c>--databases a,b</c>: a command runs once per database of the server, as one task per
/// database named after it (its state in its own target database), with one combined display and exit code. The servers'
/// connection strings then need no database (one they name is only where the list of databases is read).
/// </summary>
internal sealed class DatabaseOptions(CommonOptions common)
{
    private static readonly AsyncLocal<Scope?> Current = new();

    public Option<bool> All { get; } = new("--all-databases")
    {
        Description = "One task per database of the source server, each named after its database and keeping its state in that database on "
            + "the target; template0, template1, databases that refuse connections and databases without any table are left out, postgres "
            + "is one like any other (as pg_dumpall does). The connection strings need no database.",
    };

    public Option<string[]> Names { get; } = new("--databases")
    {
        Description = "One task per database named here (exact names, comma-separated or repeated), as --all-databases does for all.",
    };

    public Option<string[]> Exclude { get; } = new("--exclude-database")
    {
        Description = "With --all-databases: leave out the databases this name or glob (* and ?) matches (repeatable), e.g. a managed service's own.",
    };

    public Option<string?> ParallelTasks { get; } = new("--parallel-tasks")
    {
        Description = "With several databases: how many tasks run at once (default 1; for migrate, a task that streams changes frees its place).",
    };

    /// <summary>The database the running flow works on, when a command runs once per database; <see cref="CommonOptions.Resolve"/> uses it.</summary>
    public static string? Database => Current.Value?.Database;

    /// <summary>Said by migrate when its task starts streaming: another database's task may start copying.</summary>
    public static void Streaming() => Current.Value?.Release();

    /// <summary>Gives <paramref name="command"/> the options, and runs its action once per database when they are used.</summary>
    public Command Apply(Command command, DatabaseRun run)
    {
        command.Options.Add(All);
        command.Options.Add(Names);
        command.Options.Add(Exclude);
        if (run is DatabaseRun.Migrate or DatabaseRun.Parallel)
        {
            command.Options.Add(ParallelTasks);
        }
        var single = (AsynchronousCommandLineAction)command.Action!;
        command.SetAction((pr, ct) => pr.GetValue(All) || pr.GetValue(Names) is { Length: > 0 }
            ? RunEachAsync(pr, command.Name, run, single, ct)
            : single.InvokeAsync(pr, ct));
        return command;
    }

    private async Task<int> RunEachAsync(ParseResult pr, string command, DatabaseRun run, AsynchronousCommandLineAction single, CancellationToken ct)
    {
        var names = (pr.GetValue(Names) ?? []).SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (pr.GetValue(All) && names.Count > 0)
        {
            throw new UsageException("--all-databases and --databases contradict each other.", "Give one of them.");
        }
        if (pr.GetValue(Exclude) is { Length: > 0 } && !pr.GetValue(All))
        {
            throw new UsageException("--exclude-database works with --all-databases only.", "Leave the database out of --databases instead.");
        }
        var (source, target, taskNamed) = common.Servers(pr, requireSource: command is not ("status" or "stop"), severalDatabases: true);
        if (taskNamed)
        {
            throw new UsageException("A task name does not go with --all-databases or --databases: each database's task is named after it.",
                "Leave --task (and the task file's task) out; to name a task, migrate its database on its own.");
        }
        // One process serves one metrics port: the tasks of several databases would each want it.
        if (pr.Tokens.Any(t => t.Value == "--metrics-port" || t.Value.StartsWith("--metrics-port=", StringComparison.Ordinal)))
        {
            throw new UsageException("--metrics-port does not go with --all-databases or --databases yet: each database's task would serve its own metrics on the same port.",
                "Leave --metrics-port out, or migrate the databases one by one, each with its own --metrics-port.");
        }
        var parallel = 1;
        if (pr.GetValue(ParallelTasks) is { } p && !(int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out parallel) && parallel >= 1))
        {
            throw new UsageException($"--parallel-tasks '{p}' is not a number of tasks.", "Give --parallel-tasks 1 or more, or leave it out (one task copies at a time).");
        }
        var choice = new DatabaseChoice(pr.GetValue(All), names, pr.GetValue(Exclude) ?? []);
        // Without a source (status, stop), the databases are the target's that hold tasks.
        var empty = new List<string>();
        var databases = source is not null
            ? await DatabaseSet.ResolveAsync(source, "source", choice, empty, ct)
            : await DatabaseSet.WithTasksAsync(target, await DatabaseSet.ResolveAsync(target, "target", choice, null, ct), ct);
        if (empty.Count > 0)
        {
            Console.Out.WriteLine($"{command}: left out {string.Join(", ", empty.Select(DatabaseSet.Quoted))}: no table to migrate.");
        }
        if (databases.Count == 0)
        {
            throw new PgShiftException(source is not null ? "No database to work on: every database of the source is excluded." : $"No database of the target {target.HostDisplay} holds a PgShift task.",
                source is not null ? "Check --exclude-database." : "Give --source too, or check --target.");
        }
        // Refused before anything is created: two databases whose tasks would share a name (and a slot).
        _ = DatabaseSet.TaskNames(databases);
        if (run == DatabaseRun.Migrate)
        {
            foreach (var line in await DatabaseSet.CreateMissingAsync(target, databases, ct))
            {
                Console.Out.WriteLine(line);
            }
        }
        Console.Out.WriteLine($"{command}: {Plural.Of(databases.Count, "database")} ({string.Join(", ", databases.Select(d => DatabaseSet.Quoted(d.Name)))}), "
            + (run == DatabaseRun.OneByOne ? "one after the other" : run == DatabaseRun.AllAtOnce ? "all at once" : $"{parallel} at once"));
        TaskConsole.Share();
        using var places = new SemaphoreSlim(run == DatabaseRun.AllAtOnce ? databases.Count : run == DatabaseRun.OneByOne ? 1 : parallel);
        var codes = await Task.WhenAll(databases.Select(db => RunOneAsync(db, pr, single, places, ct)));
        return Summarise(command, databases, codes);
    }

    private static async Task<int> RunOneAsync(ServerDatabase db, ParseResult pr, AsynchronousCommandLineAction single, SemaphoreSlim places, CancellationToken ct)
    {
        await places.WaitAsync(ct);
        var scope = new Scope(db.Name, places);
        Current.Value = scope;
        TaskConsole.Enter(db.Name);
        try
        {
            return await single.InvokeAsync(pr, ct);
        }
        catch (Exception ex)
        {
            return ErrorReport.Print(ex, ct);
        }
        finally
        {
            scope.Release();
        }
    }

    private static int Summarise(string command, IReadOnlyList<ServerDatabase> databases, int[] codes)
    {
        var failed = databases.Zip(codes).Where(x => x.Second != ExitCodes.Success).ToList();
        Console.Out.WriteLine(failed.Count == 0
            ? $"{command}: exit code 0 for all {Plural.Of(databases.Count, "database")}."
            : $"{command}: {failed.Count} of {Plural.Of(databases.Count, "database")} did not succeed: "
              + string.Join(", ", failed.Select(f => $"{DatabaseSet.Quoted(f.First.Name)} (exit code {f.Second})")) + ".");
        // The worst: an error (2) before a failed check or task (1) before success.
        return codes.Max();
    }

    /// <summary>One database's run: its name, and its place among those running at once (given back once).</summary>
    private sealed class Scope(string database, SemaphoreSlim places)
    {
        private int _released;

        public string Database { get; } = database;

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                places.Release();
            }
        }
    }
}
