using System.CommandLine;
using PgShift.Connections;
using PgShift.Selection;
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

    public Option<bool> Json { get; } = new("--json") { Description = "Print one JSON object instead of text." };

    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Log each step." };

    public Option<string?> RetryWindowOption { get; } = new("--retry-window")
    {
        Description = "How long lost connections are retried before the task fails: e.g. 12h (default), 30m, 90s.",
    };

    /// <summary>
    /// PGSHIFT_DECODING_WORK_MEM (e.g. 64kB): the source's logical_decoding_work_mem for the task's walsender, so that
    /// tests and torture runs can force large transactions to be streamed (PostgreSQL 14+) or spilled; unset: the server's.
    /// </summary>
    public static string? DecodingWorkMem()
        => Environment.GetEnvironmentVariable("PGSHIFT_DECODING_WORK_MEM") is { Length: > 0 } mem ? mem : null;

    public TimeSpan RetryWindow(ParseResult pr, ResolvedTask task)
    {
        var text = pr.GetValue(RetryWindowOption) ?? task.File.RetryWindow;
        return text is null ? Connections.RetryWindow.DefaultWindow : Duration(text, "Retry window");
    }

    /// <summary>The number of parallel connections: --jobs, else the task file's jobs, else the cores (at least 2).</summary>
    public static int Jobs(string? flag, ResolvedTask task)
    {
        if (flag is null)
        {
            return task.File.Jobs is { } fromFile
                ? fromFile >= 1 ? fromFile : throw new UsageException($"jobs: {fromFile} in the task file is not a number of parallel connections.", "Give jobs 1 or more, or leave it out (the default is the number of cores, at least 2).")
                : Math.Max(2, Environment.ProcessorCount);
        }
        if (!int.TryParse(flag, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var jobs) || jobs < 1)
        {
            throw new UsageException($"--jobs '{flag}' is not a number of parallel connections.",
                "Give --jobs 1 or more (each job holds a connection to each server), or leave it out: the default is the number of cores, at least 2.");
        }
        return jobs;
    }

    /// <summary>A duration as a person writes it: a number and a unit, 12h, 30m or 90s.</summary>
    public static TimeSpan Duration(string text, string what)
    {
        if (text.Length > 1 && double.TryParse(text[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            switch (text[^1])
            {
                case 'h': return TimeSpan.FromHours(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 's': return TimeSpan.FromSeconds(n);
            }
        }
        throw new UsageException($"{what} '{text}' is not understood.", "Write a number and a unit: 12h, 30m or 90s.");
    }

    public void AddTo(Command command, bool selection = true)
    {
        command.Options.Add(Source);
        command.Options.Add(Target);
        command.Options.Add(Task);
        command.Options.Add(TaskFile);
        command.Options.Add(RetryWindowOption);
        if (selection)
        {
            command.Options.Add(IncludeSchema);
            command.Options.Add(ExcludeSchema);
            command.Options.Add(IncludeTable);
            command.Options.Add(ExcludeTable);
            command.Options.Add(ExcludeColumn);
        }
    }

    /// <summary>Everything a command needs to reach both servers and know its task.</summary>
    public ResolvedTask Resolve(ParseResult pr, bool requireSource = true)
    {
        var file = pr.GetValue(TaskFile) is { } fi ? Selection.TaskFile.Load(fi.FullName) : new Selection.TaskFile();
        var sourceText = pr.GetValue(Source) ?? file.Source;
        var targetText = pr.GetValue(Target) ?? file.Target;
        if (!requireSource && sourceText is null && targetText is not null && (pr.GetValue(Task) ?? file.Task) is null)
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
        // status and stop need no source: the target's spec stands in for it (only its database name is used, for the default task name).
        source ??= target;
        var taskName = TaskName.Validate(pr.GetValue(Task) ?? file.Task ?? TaskName.FromDatabase(source.Database));

        var selection = file.ToSelection();
        selection.IncludeSchemas.AddRange((pr.GetValue(IncludeSchema) ?? []).Select(p => new NamePattern(p)));
        selection.ExcludeSchemas.AddRange((pr.GetValue(ExcludeSchema) ?? []).Select(p => new NamePattern(p)));
        selection.IncludeTables.AddRange((pr.GetValue(IncludeTable) ?? []).Select(p => new NamePattern(p)));
        selection.ExcludeTables.AddRange((pr.GetValue(ExcludeTable) ?? []).Select(p => new NamePattern(p)));
        selection.Validate();
        var excluded = file.ToColumnExclusions();
        foreach (var c in pr.GetValue(ExcludeColumn) ?? [])
        {
            excluded.Add(c);
        }
        return new ResolvedTask(source, target, taskName, selection, file, excluded, file.ToNameMapping());
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

public sealed record ResolvedTask(ConnectionSpec Source, ConnectionSpec Target, string TaskName, TableSelection Selection, TaskFile File,
    ColumnExclusions ExcludedColumns, NameMapping Mapping);

/// <summary>The command line itself is wrong: exit code 2, with what to type instead.</summary>
public sealed class UsageException(string message, string fix) : PgShiftException(message, fix);
