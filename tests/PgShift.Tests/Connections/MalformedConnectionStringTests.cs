using PgShift.Connections;

namespace PgShift.Tests.Connections;

/// <summary>A connection string that does not parse is refused with a message that shows it with its password masked.</summary>
public sealed class MalformedConnectionStringTests
{
    private const string Secret = "Pw_S3cret!x";
    private static readonly Dictionary<string, string?> NoEnv = new() { ["HOME"] = "/nonexistent-home", ["USER"] = "osuser" };

    public static TheoryData<string, string> Malformed => new()
    {
        { $"postgress://pwuser:{Secret}@127.0.0.1:5432/ddb", "'postgress:' where a PostgreSQL URI starts with postgresql://" },
        { $"mysql://pwuser:{Secret}@127.0.0.1:5432/ddb", "mysql:// is MySQL's scheme, not PostgreSQL's: a PostgreSQL URI starts with postgresql://" },
        { $"postgresql+psycopg2://pwuser:{Secret}@h/d", "'postgresql+psycopg2:'" },
        { $"postgres:/pwuser:{Secret}@h/d", "a colon and two slashes" },
        { $"pwuser:{Secret}@127.0.0.1:5432/db", "where a PostgreSQL URI starts with" },
        { $"host=h {Secret} dbname=d", "word 2 has no '='" },
        { Secret, "word 1 has no '='" },
        { $"host=h password='{Secret} dbname=d", "the quoted value of 'password' has no closing quote" },
        { $"postgres://pwuser:{Secret}%zz@h/d", "the password has an invalid percent-encoding" },
        { $"postgres://pwuser:{Secret}@h/d%zz", "the database name has an invalid percent-encoding" },
        { $"postgres://pwuser:{Secret}@h/d%4", "the database name has an invalid percent-encoding" },
        { $"postgres://pwuser:{Secret}@h/d%00", "the database name has an invalid percent-encoding" },
        { $"postgres://pwuser:{Secret}@h:99999/d", "the port '99999' is not a number between 1 and 65535" },
        { $"postgres://pwuser:{Secret}/d", "the port is not a number" },
        { $"host=h password={Secret} port=abc", "the port 'abc' is not a number" },
        { $"host=h pasword={Secret}", "'pasword' is not a libpq connection keyword" },
        { $"postgres://pwuser:{Secret}@h/d?{Secret}", "a URI parameter is not of the form keyword=value" },
        { $"postgres://pwuser@h/d?password={Secret}&frob=1", "'frob' is not a libpq connection keyword" },
        { $"postgres://pwuser:{Secret}@[::1/d", "has no closing ']'" },
        { $"host=h password={Secret} sslmode=sometimes", "sslmode 'sometimes' is not one of" },
        { $"postgres://pwuser:{Secret}@h/d?target_session_attrs=bogus", "target_session_attrs 'bogus' is not one of" },
        { $"postgres://pwuser:{Secret}@h/d?connect_timeout=soon", "connect_timeout 'soon' is not a whole number" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Refused_with_what_is_wrong_and_the_string_masked(string text, string expected)
    {
        var ex = Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse(text, NoEnv));
        Assert.StartsWith("The connection string ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Pw_S3", ex.Message + ex.Fix, StringComparison.Ordinal);
        Assert.Contains(Redactor.Mask, ex.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(ex.Fix));
    }

    [Theory]
    [InlineData("postgress://u:pw-secret@h:5432/db", "postgress://u:********@h:5432/db")]
    [InlineData("postgres:/u:pw-secret@h/db", "postgres:/********@h/db")]
    [InlineData("u:pw-secret@h:5432/db", "u:********@h:5432/db")]
    [InlineData("postgres://u:pw-secret/db", "postgres://u:********/db")]
    [InlineData("postgres://u@h:5432/db", "postgres://u@h:5432/db")]
    [InlineData("postgres://u@h/db?sslmode=require&password=pw-secret&x", "postgres://u@h/db?sslmode=require&password=********&********")]
    [InlineData("host=h pw-secret dbname='my db'", "host=h ******** dbname='my db'")]
    [InlineData("host=h password='pw secret", "host=h password=********")]
    [InlineData("host=h pasword=pw-secret port=5432", "host=h pasword=******** port=5432")]
    public void Masked_form_hides_whatever_could_be_a_password(string text, string expected)
    {
        Assert.Equal(expected, Redactor.MaskConnectionString(text));
    }

    [Fact]
    public void Valid_percent_encoding_is_decoded_as_utf8()
    {
        var spec = ConnectionSpecParser.Parse("postgres://us%65r:p%40%25ss@h/d%C3%A9b", NoEnv);
        Assert.Equal("user", spec.User);
        Assert.Equal("p@%ss", spec.Password);
        Assert.Equal("déb", spec.Database);
    }
}
