using PgShift.Connections;

namespace PgShift.Tests.Connections;

public sealed class RedactorTests
{
    [Theory]
    [InlineData("postgres://u:hunter2xyz@host/db", "postgres://u:********@host/db")]
    [InlineData("Host=h;Password=abc123;Username=u", "Host=h;Password=********;Username=u")]
    [InlineData("host=h password='a b c' user=u", "host=h password=******** user=u")]
    public void Connection_string_shapes_are_masked(string input, string expected)
    {
        Assert.Equal(expected, Redactor.Redact(input));
    }

    [Fact]
    public void Registered_passwords_are_masked_anywhere_also_percent_encoded()
    {
        Redactor.Register("pl@in-secret");
        Assert.Equal("error near ******** and ********", Redactor.Redact("error near pl@in-secret and pl%40in-secret"));
    }

    [Fact]
    public void Failure_messages_for_connections_do_not_contain_the_password()
    {
        var spec = ConnectionSpecParser.Parse("postgres://dave:Zebra-Horse-42@db.invalid:5432/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });
        var ex = new Npgsql.PostgresException("password authentication failed for user \"dave\"", "FATAL", "FATAL", "28P01");
        var failure = ConnectionFailure.From(ex, spec);
        Assert.False(failure.IsTransient);
        Assert.DoesNotContain("Zebra-Horse-42", failure.Problem + failure.Fix, StringComparison.Ordinal);
        Assert.Contains("Password authentication failed", failure.Problem, StringComparison.Ordinal);
    }
}
