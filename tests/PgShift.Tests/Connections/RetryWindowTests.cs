using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PgShift.Connections;

namespace PgShift.Tests.Connections;

public sealed class RetryWindowTests
{
    private const string Secret = "Retry-Secret-Value-9";

    private static readonly ConnectionSpec Spec =
        ConnectionSpecParser.Parse($"postgres://app:{Secret}@db.example.com:5432/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    private sealed class CapturingLogger : ILogger
    {
        public List<string> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Lines.Add(formatter(state, exception) + exception);
    }

    [Fact]
    public async Task Transient_failures_are_retried_and_log_lines_hold_no_password()
    {
        var logger = new CapturingLogger();
        var window = new RetryWindow(TimeSpan.FromSeconds(30), logger, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5));
        var attempts = 0;
        var result = await window.RunAsync("connecting to the source", Spec, _ =>
        {
            if (++attempts < 3)
            {
                throw new SocketException((int)SocketError.ConnectionRefused);
            }
            return Task.FromResult(42);
        }, CancellationToken.None);
        Assert.Equal(42, result);
        Assert.Equal(3, attempts);
        Assert.Equal(2, logger.Lines.Count);
        Assert.All(logger.Lines, l => Assert.DoesNotContain(Secret, l, StringComparison.Ordinal));
        Assert.All(logger.Lines, l => Assert.Contains("refused", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Permanent_failures_fail_at_once_with_a_fix_and_no_password()
    {
        var logger = new CapturingLogger();
        var window = new RetryWindow(TimeSpan.FromHours(12), logger, TimeSpan.FromMilliseconds(1));
        var attempts = 0;
        var ex = await Assert.ThrowsAsync<PgShiftException>(() => window.RunAsync("connecting to the source", Spec, _ =>
        {
            attempts++;
            throw new Npgsql.PostgresException($"password authentication failed (tried {Secret})", "FATAL", "FATAL", "28P01");
        }, CancellationToken.None));
        Assert.Equal(1, attempts);
        Assert.Empty(logger.Lines);
        Assert.Contains("Password authentication failed", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.Message + ex.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Transient_failures_stop_when_the_window_closes()
    {
        var window = new RetryWindow(TimeSpan.FromMilliseconds(50), new CapturingLogger(), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10));
        var attempts = 0;
        var ex = await Assert.ThrowsAsync<PgShiftException>(() => window.RunAsync("connecting", Spec, _ =>
        {
            attempts++;
            throw new SocketException((int)SocketError.ConnectionRefused);
        }, CancellationToken.None));
        Assert.True(attempts >= 2);
        Assert.Contains("refused", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unresolvable_host_is_not_transient()
    {
        var failure = ConnectionFailure.From(new SocketException((int)SocketError.HostNotFound), Spec);
        Assert.False(failure.IsTransient);
        Assert.Contains("does not resolve", failure.Problem, StringComparison.Ordinal);
    }
}
