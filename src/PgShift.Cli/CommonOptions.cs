using System.CommandLine;
using PgShift.Connections;
using PgShift.Settings;
using PgShift.State;

namespace PgShift.Cli;

/// <summary>The options every command takes, and how they combine with a task file and the PG* environment.</summary>
public sealed class CommonOptions
{
    public Option<string?> Source { get; } = new("--source", "-s")
    {
        Description = "Source server: a libpq URI (postgres://user@host:5432/db?sslmode=require) or keyword/value string (\"host=... dbname=...\"). PG* variables and ~/.pgpass fill what is missing.",
    };

    public Option<string?> Target { get; } = new("--target", "-t")
    {
        Description = "Target server, in the same forms as --source.",
    };

    public Option<string?> Task { get; } = new("--task")
    {
        Description = "Task name (lower-case letters, digits, underscores); default: the source database's name.",
    };

    public Option<FileInfo?> TaskFile { get; } = new("--task-file")
    {
        Description = "YAML or JSON task file (servers, types, selection); flags override it.",
    };

    public Option<string[]> IncludeSchema { get; } = new("--include-schema") { Description = "Schema name or glob to include (repeatable).", AllowMultipleArgumentsPerToken = false };
    public Option<string[]> ExcludeSchema { get; } = new("--exclude-schema") { Description = "Schema name or glob to exclude (repeatable)." };
    public Option<string[]> IncludeTable { get; } = new("--include-table") { Description = "Table (schema.table, globs allowed) to include (repeatable)." };
    public Option<string[]> ExcludeTable { get; } = new("--exclude-table") { Description = "Table (schema.table, globs allowed) to exclude (repeatable)." };

    public Option<string[]> ExcludeColumn { get; } = new("--exclude-column") { Description = "Column (schema.table.column) not to migrate (repeatable)." };

    public Option<bool> LargeObjects { get; } = new("--large-objects")
    {
        Description = "Copy the database's large objects even though --include-schema or --include-table is given (without those, they are copied by default).",
    };
    public Option<bool> NoLargeObjects { get; } = new("--no-large-objects") { Description = "Do not copy, synchronise or verify the database's large objects." };

    public Option<bool> NoOwner { get; } = new("--no-owner")
    {
        Description = "Leave the target's user owner of every object it creates (as pg_restore --no-owner); by default each object gets its source owner when that role exists on the target.",
    };

    public Option<bool> Json { get; } = new("--json") { Description = "Print one JSON object instead of text." };

    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Log each step." };

    /// <summary>Only on the commands that run the task (migrate, cutover): the others do not retry.</summary>
    public Option<string?> RetryWindowOption { get; } = new("--retry-window")
    {
        Description = "How long lost connections are retried before the task fails: e.g. 12h (default), 30m, 90s.",
    };

    /// <summary>
    /// PGSHIFT_DECODING_WORK_MEM (e.g. 64kB): the source's logical_decoding_work_mem for the task's walsender, so that
    /// tests and torture runs can force large transactions to be streamed (PostgreSQL 14+) or spilled; unset: the server's.
    /// PGSHIFT_APPLY_GROUP_CHANGES: the changes after which a target transaction of the stream commits (default 20,000),
    /// so that tests can have a replay of staged changes commit in many steps.
    /// </summary>
    public static ApplyOptions ApplyFromEnvironment()
    {
        var defaults = new ApplyOptions();
        return defaults with
        {
            DecodingWorkMem = Environment.GetEnvironmentVariable("PGSHIFT_DECODING_WORK_MEM") is { Length: > 0 } mem ? mem : null,
            GroupChanges = int.TryParse(Environment.GetEnvironmentVariable("PGSHIFT_APPLY_GROUP_CHANGES"), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var group) && group > 0 ? group : defaults.GroupChanges,
        };
    }

    public void AddTo(Command command, bool selection = true)
    {
        command.Options.Add(Source);
        command.Options.Add(Target);
        command.Options.Add(Task);
        command.Options.Add(TaskFile);
        if (selection)
        {
            command.Options.Add(IncludeSchema);
            command.Options.Add(ExcludeSchema);
            command.Options.Add(IncludeTable);
            command.Options.Add(ExcludeTable);
            command.Options.Add(ExcludeColumn);
            command.Options.Add(LargeObjects);
            command.Options.Add(NoLargeObjects);
            command.Options.Add(NoOwner);
        }
    }

    /// <summary>
    /// Everything a command needs to reach both servers and know its task: the settings built from the task file and
    /// the flags (<paramref name="commandFlags"/> folds a command's own flags into that form), validated before any
    /// server is reached.
    /// </summary>
    public ResolvedTask Resolve(ParseResult pr, bool requireSource = true, Action<TaskFile>? commandFlags = null)
    {
        var file = LoadTaskFile(pr);
        var (source, target, named) = Servers(pr, requireSource, file);
        // status and stop need no source: the target's spec stands in for it (only its database name is used, for the default task name).
        source ??= target;
        // One database of several (--all-databases): its task is named after it, and both servers' connections go to it.
        if (DatabaseOptions.Database is { } database)
        {
            source = source.WithDatabase(database);
            target = target.WithDatabase(database);
        }
        var taskName = TaskName.Validate(DatabaseOptions.Database is null ? pr.GetValue(Task) ?? file.Task ?? TaskName.FromDatabase(source.Database) : TaskName.FromDatabase(source.Database));
        var given = Given(pr, file);
        commandFlags?.Invoke(given);
        return new ResolvedTask(TaskSettingsBuilder.Build(source, target, taskName, given), given, named);
    }

    /// <summary>
    /// The servers the command line and task file give (the source only when <paramref name="requireSource"/> or given), and
    /// whether they name the task (which a command on <paramref name="severalDatabases"/> does not need).
    /// </summary>
    public (ConnectionSpec? Source, ConnectionSpec Target, bool TaskNamed) Servers(ParseResult pr, bool requireSource, TaskFile? file = null, bool severalDatabases = false)
    {
        file ??= LoadTaskFile(pr);
        var sourceText = pr.GetValue(Source) ?? file.Source;
        var targetText = pr.GetValue(Target) ?? file.Target;
        var named = file.Task is not null || pr.GetValue(Task) is not null;
        if (!requireSource && sourceText is null && targetText is not null && !named && !severalDatabases && DatabaseOptions.Database is null)
        {
            throw new UsageException("Missing --task.", "Name the task (--task NAME), or give --source so that its default name (the source database's) can be used.");
        }
        if ((requireSource && sourceText is null) || targetText is null)
        {
            throw new UsageException($"Missing {(sourceText is null ? "--source" : "--target")}.",
                "Give both servers, e.g. --source postgres://app@old-db:5432/app --target postgres://app@new-db:5432/app, or name them in --task-file.");
        }
        var source = sourceText is null ? null : ParseServer(sourceText, pr.GetValue(Source) is not null ? "--source" : "source (in the task file)");
        var target = ParseServer(targetText, pr.GetValue(Target) is not null ? "--target" : "target (in the task file)");
        return (source, target, named);
    }

    private Settings.TaskFile LoadTaskFile(ParseResult pr) => pr.GetValue(TaskFile) is { } fi ? Settings.TaskFile.Load(fi.FullName) : new Settings.TaskFile();

    /// <summary>The task file's settings with this command line's selection flags and retry window folded in.</summary>
    private Settings.TaskFile Given(ParseResult pr, Settings.TaskFile f)
    {
        static List<string>? Join(List<string>? a, string[]? b) => (a ?? []).Concat(b ?? []).ToList() is { Count: > 0 } l ? l : null;
        if (pr.GetValue(LargeObjects) && pr.GetValue(NoLargeObjects))
        {
            throw new UsageException("--large-objects and --no-large-objects contradict each other.", "Give one of them.");
        }
        return new Settings.TaskFile
        {
            Types = f.Types, Jobs = f.Jobs, RetryWindow = pr.GetValue(RetryWindowOption) ?? f.RetryWindow, Mapping = f.Mapping,
            OnConflict = f.OnConflict, SplitThresholdMb = f.SplitThresholdMb, Reverse = f.Reverse,
            MaxCopyRate = f.MaxCopyRate, MaxApplyRate = f.MaxApplyRate, MetricsPort = f.MetricsPort, MetricsAddress = f.MetricsAddress,
            LargeObjects = pr.GetValue(NoLargeObjects) ? false : pr.GetValue(LargeObjects) ? true : f.LargeObjects,
            Owners = pr.GetValue(NoOwner) ? false : f.Owners,
            IncludeSchemas = Join(f.IncludeSchemas, pr.GetValue(IncludeSchema)),
            ExcludeSchemas = Join(f.ExcludeSchemas, pr.GetValue(ExcludeSchema)),
            IncludeTables = Join(f.IncludeTables, pr.GetValue(IncludeTable)),
            ExcludeTables = Join(f.ExcludeTables, pr.GetValue(ExcludeTable)),
            ExcludeColumns = Join(f.ExcludeColumns, pr.GetValue(ExcludeColumn)),
        };
    }

    private static ConnectionSpec ParseServer(string text, string origin)
    {
        try
        {
            return ConnectionSpecParser.Parse(text);
        }
        catch (ConnectionSpecException ex)
        {
            throw new UsageException($"{origin}: {ex.Message}", ex.Fix ?? "Give a libpq URI or keyword/value string.");
        }
    }
}

/// <summary>A command's task: its settings, what the command line and task file gave (the form stored with a new task), and whether the task was named.</summary>
public sealed record ResolvedTask(TaskSettings Settings, TaskFile Given, bool Named)
{
    public ConnectionSpec Source => Settings.Source;
    public ConnectionSpec Target => Settings.Target;
    public string TaskName => Settings.TaskName;
}

/// <summary>The command line itself is wrong: exit code 2, with what to type instead.</summary>
public sealed class UsageException(string message, string fix) : PgShiftException(message, fix);
