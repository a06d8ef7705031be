using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Npgsql;
using PgShift.Connections;

namespace PgShift.Tests.Connections;

public sealed class RetryLoopTests
{
    private const string Secret = "Retry-Secret-Value-9";

    private static readonly ConnectionSpec Spec =
        ConnectionSpecParser.Parse($"postgres://app:{Secret}@db.example.com:5432/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    private static RetryLoop Loop(TimeSpan window) => new("Copying public.t", window, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5))
    {
        Describe = ex => ConnectionFailure.From(ex, Spec) is var f ? (f.Problem, f.Fix) : default,
    };

    [Fact]
    public async Task Transient_failures_are_retried_and_said_without_the_password()
    {
        var loop = Loop(TimeSpan.FromSeconds(30));
        var said = new List<string>();
        loop.Retrying += (ex, _, _) => said.Add(ConnectionFailure.From(ex, Spec).Problem);
        var attempts = 0;
        var result = await loop.RunAsync(_ => ++attempts < 3 ? throw new SocketException((int)SocketError.ConnectionRefused) : Task.FromResult(42), CancellationToken.None);
        Assert.Equal(42, result);
        Assert.Equal(3, attempts);
        Assert.Equal(2, said.Count);
        Assert.All(said, l => Assert.Contains("refused", l, StringComparison.Ordinal));
        Assert.All(said, l => Assert.DoesNotContain(Secret, l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_permanent_failure_fails_at_once_as_itself()
    {
        var loop = Loop(TimeSpan.FromHours(12));
        var attempts = 0;
        var ex = await Assert.ThrowsAsync<PostgresException>(() => loop.RunAsync(_ =>
        {
            attempts++;
            throw new PostgresException("password authentication failed", "FATAL", "FATAL", "28P01");
        }, CancellationToken.None));
        Assert.Equal(1, attempts);
        Assert.Equal("28P01", ex.SqlState);
    }

    [Fact]
    public async Task A_closed_window_says_what_failed_and_is_not_retried_by_an_outer_loop()
    {
        var inner = Loop(TimeSpan.FromMilliseconds(30));
        var outerAttempts = 0;
        var innerAttempts = 0;
        var outer = Loop(TimeSpan.FromSeconds(30));
        var ex = await Assert.ThrowsAsync<RetryWindowClosedException>(() => outer.RunAsync(async c =>
        {
            outerAttempts++;
            await inner.RunAsync(async _ =>
            {
                innerAttempts++;
                await Task.Delay(10, c);
                throw new SocketException((int)SocketError.ConnectionRefused);
            }, c);
        }, CancellationToken.None));
        Assert.Equal(1, outerAttempts);
        Assert.True(innerAttempts >= 2);
        Assert.StartsWith("Copying public.t failed, and went on failing for the whole retry window", ex.Message, StringComparison.Ordinal);
        Assert.Contains("refused", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.Message + ex.Fix, StringComparison.Ordinal);
        Assert.False(Transience.IsTransient(ex));
    }

    [Fact]
    public async Task Keeping_the_failure_when_the_window_closes_rethrows_it()
    {
        var loop = new RetryLoop("Task t", TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(5)) { KeepFailureWhenClosed = true };
        var failure = new TaskFailedException("Task t failed: the source went away", "Resume it.", new IOException("reset"));
        var thrown = await Assert.ThrowsAsync<TaskFailedException>(() => loop.RunAsync(async c =>
        {
            await Task.Delay(5, c);
            throw failure;
        }, CancellationToken.None));
        Assert.Same(failure, thrown);
    }

    [Fact]
    public async Task Work_that_recovered_gets_a_new_window_for_its_next_outage()
    {
        var loop = Loop(TimeSpan.FromMilliseconds(40));
        var attempts = 0;
        var result = await loop.RunAsync(async c =>
        {
            attempts++;
            await Task.Delay(15, c);
            if (attempts < 8)
            {
                // Each attempt "streamed" for a while before failing: a new outage each time, never a closed window.
                loop.Recovered();
                throw new IOException("connection reset");
            }
            return attempts;
        }, CancellationToken.None);
        Assert.Equal(8, result);
    }

    [Fact]
    public async Task A_custom_rule_can_leave_a_transient_failure_to_an_outer_loop()
    {
        var loop = new RetryLoop("unit", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1))
        {
            CanRetry = ex => ex is not TimeoutException && Transience.IsTransient(ex),
        };
        var attempts = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => loop.RunAsync<int>(_ => { attempts++; throw new TimeoutException(); }, CancellationToken.None));
        Assert.Equal(1, attempts);
    }

    public static TheoryData<Exception, bool> Failures => new()
    {
        { new SocketException((int)SocketError.ConnectionRefused), true },
        { new SocketException((int)SocketError.HostNotFound), false },
        { new IOException("Unable to read data from the transport connection"), true },
        { new EndOfStreamException(), true },
        { new TimeoutException(), true },
        { new AuthenticationException("The remote certificate is invalid"), false },
        { new NpgsqlException("Exception while reading from stream", new IOException("reset")), true },
        { new NpgsqlException("Exception while performing SSL handshake", new AuthenticationException("bad certificate")), false },
        { new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", "57P01"), true },
        { new PostgresException("the database system is starting up", "FATAL", "FATAL", "57P03"), true },
        { new PostgresException("sorry, too many clients already", "FATAL", "FATAL", "53300"), true },
        { new PostgresException("connection failure", "FATAL", "FATAL", "08006"), true },
        // Object in use: only the stream retries it (its slot, still held by a dying walsender), not every phase.
        { new PostgresException("replication slot is active", "ERROR", "ERROR", "55006"), false },
        { new PostgresException("duplicate key value", "ERROR", "ERROR", "23505"), false },
        // A message that mentions a timeout is not a timeout: the type decides, not the text.
        { new PostgresException("canceling statement due to statement timeout", "ERROR", "ERROR", "57014"), false },
        { new PgShiftException("Conflict applying UPDATE to public.t"), false },
        { new PgShiftException("Creating index i failed", "See the message.", new PostgresException("terminating connection", "FATAL", "FATAL", "57P01")), true },
        { new TaskFailedException("Task t failed: reset", null, new IOException("reset")), true },
        { new ChannelClosedException(new IOException("reset")), true },
        { new OperationCanceledException(), false },
        { new InvalidOperationException("wrapper", new SocketException((int)SocketError.TimedOut)), true },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Transience_is_decided_by_type_and_sqlstate(Exception failure, bool transient)
        => Assert.Equal(transient, Transience.IsTransient(failure));

    [Fact]
    public void A_connection_failure_carries_the_same_answer_and_says_why()
    {
        var failure = ConnectionFailure.From(new SocketException((int)SocketError.HostNotFound), Spec);
        Assert.False(failure.IsTransient);
        Assert.Contains("does not resolve", failure.Problem, StringComparison.Ordinal);
        Assert.True(ConnectionFailure.From(new PostgresException("shutting down", "FATAL", "FATAL", "57P01"), Spec).IsTransient);
    }
}
