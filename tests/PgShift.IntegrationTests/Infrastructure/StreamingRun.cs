using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using PgShift.Progress;
using PgShift.Settings;
using PgShift.State;
using PgShift.Tasks;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>A migration task started in the background and waited for until its change stream runs.</summary>
public static class StreamingRun
{
    /// <summary>A task between two test databases, as the stream tests run it: two jobs, a short retry window.</summary>
    public static TaskSettings Options(TestServer source, string sourceDb, TestServer target, string targetDb, string task) => new()
    {
        Source = source.Spec(sourceDb),
        Target = target.Spec(targetDb),
        TaskName = task,
        Jobs = 2,
        RetryWindow = TimeSpan.FromSeconds(30),
    };

    public static Task<Task<MigrationResult>> StartAsync(TaskSettings options, CancellationToken ct = default, ILogger? logger = null)
        => StartAsync(new MigrationTask(logger ?? NullLogger.Instance), options, ct);

    /// <summary>Runs <paramref name="migration"/> (whose progress the test then reads) until its change stream runs.</summary>
    public static async Task<Task<MigrationResult>> StartAsync(MigrationTask migration, TaskSettings options, CancellationToken ct = default)
    {
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        migration.ProgressChanged += p =>
        {
            if (p.Phase == TaskPhase.Stream)
            {
                streaming.TrySetResult();
            }
        };
        var running = migration.RunAsync(options, cutover: false, ct);
        await Task.WhenAny(streaming.Task, running, Task.Delay(TimeSpan.FromMinutes(2), CancellationToken.None));
        if (running.IsFaulted)
        {
            await running;
        }
        Assert.True(streaming.Task.IsCompleted, "the task did not reach the stream phase");
        return running;
    }
}

/// <summary>Keeps what was logged, for tests that look at what a task said.</summary>
public sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Entries.Enqueue((logLevel, formatter(state, exception)));
}

/// <summary>Fresh databases for one test, dropped (with their slots) when the test class instance is disposed.</summary>
public abstract class FreshDatabases : IAsyncLifetime
{
    private readonly List<Func<Task>> _cleanup = new();

    /// <summary>Unique per test: slots and tasks are named after it, and slots belong to the whole server.</summary>
    protected string Run { get; } = Guid.NewGuid().ToString("N")[..6];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var c in _cleanup)
        {
            await c();
        }
    }

    protected async Task<string> CreateAsync(TestServer server, string prefix)
    {
        var db = await server.CreateDatabaseAsync(prefix);
        _cleanup.Add(() => server.DropDatabaseAsync(db));
        return db;
    }
}
