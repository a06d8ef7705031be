using PgShift.Connections;

namespace PgShift.Tests.Connections;

public sealed class ConnectionSpecParserTests
{
    private static readonly Dictionary<string, string?> NoEnv = new() { ["HOME"] = "/nonexistent-home", ["USER"] = "osuser" };

    private static Dictionary<string, string?> Env(params (string Key, string Value)[] vars)
    {
        var d = new Dictionary<string, string?>(NoEnv);
        foreach (var (k, v) in vars)
        {
            d[k] = v;
        }
        return d;
    }

    [Fact]
    public void Uri_with_all_parts_is_parsed()
    {
        var spec = ConnectionSpecParser.Parse("postgres://alice:s3cret@db.example.com:6543/sales?sslmode=require&application_name=mig", NoEnv);
        Assert.Equal("db.example.com", spec.Hosts[0].Host);
        Assert.Equal(6543, spec.Hosts[0].Port);
        Assert.Equal("alice", spec.User);
        Assert.Equal("s3cret", spec.Password);
        Assert.Equal("sales", spec.Database);
        Assert.Equal("require", spec.Settings["sslmode"]);
        Assert.Equal("mig", spec.Settings["application_name"]);
    }

    [Fact]
    public void Uri_percent_encoding_is_decoded_in_user_password_and_database()
    {
        var spec = ConnectionSpecParser.Parse("postgresql://us%40er:p%40ss%3Aw%2Fd%20x@host/my%20db", NoEnv);
        Assert.Equal("us@er", spec.User);
        Assert.Equal("p@ss:w/d x", spec.Password);
        Assert.Equal("my db", spec.Database);
    }

    [Fact]
    public void Uri_with_ipv6_host_and_port()
    {
        var spec = ConnectionSpecParser.Parse("postgres://u@[2001:db8::1]:5433/app", NoEnv);
        Assert.Equal("2001:db8::1", spec.Hosts[0].Host);
        Assert.Equal(5433, spec.Hosts[0].Port);
        Assert.Contains("[2001:db8::1]:5433", spec.ToNpgsqlConnectionString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Uri_with_ipv6_host_without_port_uses_default_port()
    {
        var spec = ConnectionSpecParser.Parse("postgres://u@[::1]/app", NoEnv);
        Assert.Equal("::1", spec.Hosts[0].Host);
        Assert.Equal(5432, spec.Hosts[0].Port);
    }

    [Fact]
    public void Uri_with_several_hosts_keeps_each_port()
    {
        var spec = ConnectionSpecParser.Parse("postgres://u@h1:5001,h2,[::1]:5003/app?target_session_attrs=read-write", NoEnv);
        Assert.Equal([new HostPort("h1", 5001), new HostPort("h2", 5432), new HostPort("::1", 5003)], spec.Hosts);
        Assert.Equal("read-write", spec.Settings["target_session_attrs"]);
    }

    [Fact]
    public void Keyword_value_with_quoting_and_escapes()
    {
        var spec = ConnectionSpecParser.Parse(@"host=db.local port = 5444 dbname='my db' user=bob password='it\'s a \\ secret' sslmode=disable", NoEnv);
        Assert.Equal("db.local", spec.Hosts[0].Host);
        Assert.Equal(5444, spec.Hosts[0].Port);
        Assert.Equal("my db", spec.Database);
        Assert.Equal("bob", spec.User);
        Assert.Equal(@"it's a \ secret", spec.Password);
        Assert.Equal("disable", spec.Settings["sslmode"]);
    }

    [Fact]
    public void Keyword_value_with_empty_quoted_value()
    {
        var spec = ConnectionSpecParser.Parse("host=h dbname=d user=u options=''", NoEnv);
        Assert.Equal(string.Empty, spec.Settings["options"]);
    }

    [Fact]
    public void Unknown_keyword_is_named_in_the_error()
    {
        var ex = Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse("host=h dbnme=x", NoEnv));
        Assert.Contains("dbnme", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unterminated_quote_is_an_error_without_the_password()
    {
        var ex = Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse("host=h password='topsecretvalue", NoEnv));
        Assert.DoesNotContain("topsecretvalue", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_port_is_an_error()
    {
        Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse("postgres://u@h:99999/d", NoEnv));
        Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse("host=h port=abc", NoEnv));
    }

    [Fact]
    public void Environment_fills_only_what_the_string_lacks()
    {
        var env = Env(("PGHOST", "envhost"), ("PGPORT", "7000"), ("PGUSER", "envuser"), ("PGDATABASE", "envdb"), ("PGPASSWORD", "envpass"), ("PGSSLMODE", "require"));
        var spec = ConnectionSpecParser.Parse("postgres://given@/givendb", env);
        Assert.Equal("envhost", spec.Hosts[0].Host);
        Assert.Equal(7000, spec.Hosts[0].Port);
        Assert.Equal("given", spec.User);
        Assert.Equal("givendb", spec.Database);
        Assert.Equal("envpass", spec.Password);
        Assert.Equal("require", spec.Settings["sslmode"]);
    }

    [Fact]
    public void Empty_string_takes_everything_from_environment()
    {
        var spec = ConnectionSpecParser.Parse("", Env(("PGHOST", "h"), ("PGUSER", "u")));
        Assert.Equal("h", spec.Hosts[0].Host);
        Assert.Equal("u", spec.User);
        Assert.Equal("u", spec.Database);
    }

    [Fact]
    public void Defaults_are_localhost_5432_and_os_user()
    {
        var spec = ConnectionSpecParser.Parse("dbname=x", NoEnv);
        Assert.Equal(new HostPort("localhost", 5432), spec.Hosts[0]);
        Assert.Equal("osuser", spec.User);
    }

    [Fact]
    public void Pgpass_supplies_password_with_wildcards_and_escapes()
    {
        var file = WritePgPass("# comment\nother:5432:*:bob:nope\ndb.local:*:sales:bob:pa\\:ss\\\\word\n*:*:*:*:fallback\n");
        var spec = ConnectionSpecParser.Parse("host=db.local dbname=sales user=bob", Env(("PGPASSFILE", file)));
        Assert.Equal(@"pa:ss\word", spec.Password);
        var other = ConnectionSpecParser.Parse("host=elsewhere dbname=sales user=bob", Env(("PGPASSFILE", file)));
        Assert.Equal("fallback", other.Password);
    }

    [Fact]
    public void Explicit_password_and_PGPASSWORD_take_precedence_over_pgpass()
    {
        var file = WritePgPass("*:*:*:*:frompgpass\n");
        Assert.Equal("given", ConnectionSpecParser.Parse("host=h user=u password=given", Env(("PGPASSFILE", file), ("PGPASSWORD", "fromenv"))).Password);
        Assert.Equal("fromenv", ConnectionSpecParser.Parse("host=h user=u", Env(("PGPASSFILE", file), ("PGPASSWORD", "fromenv"))).Password);
        Assert.Equal("frompgpass", ConnectionSpecParser.Parse("host=h user=u", Env(("PGPASSFILE", file))).Password);
    }

    [Fact]
    public void Passfile_keyword_overrides_PGPASSFILE_and_home()
    {
        var a = WritePgPass("*:*:*:*:from-a\n");
        var b = WritePgPass("*:*:*:*:from-b\n");
        var spec = ConnectionSpecParser.Parse($"host=h user=u passfile={b}", Env(("PGPASSFILE", a)));
        Assert.Equal("from-b", spec.Password);
    }

    [Fact]
    public void Pgpass_readable_by_others_is_ignored_like_libpq()
    {
        var file = WritePgPass("*:*:*:*:leaky\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Null(ConnectionSpecParser.Parse("host=h user=u", Env(("PGPASSFILE", file))).Password);
    }

    [Fact]
    public void Pgpass_in_home_is_used_by_default()
    {
        var home = Directory.CreateTempSubdirectory("pgshift-home").FullName;
        var path = Path.Combine(home, ".pgpass");
        File.WriteAllText(path, "h:5432:d:u:homepass\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var spec = ConnectionSpecParser.Parse("host=h dbname=d user=u", new Dictionary<string, string?> { ["HOME"] = home });
        Assert.Equal("homepass", spec.Password);
    }

    [Fact]
    public void ToString_and_errors_never_show_the_password()
    {
        const string password = "Very$ecret-Pa55";
        var spec = ConnectionSpecParser.Parse($"postgres://carol:{Uri.EscapeDataString(password)}@h:1/d", NoEnv);
        Assert.Equal(password, spec.Password);
        Assert.DoesNotContain(password, spec.ToString(), StringComparison.Ordinal);
        Assert.Equal("carol@h:1/d", spec.ToString());
        Assert.DoesNotContain(password, new PgShiftException($"failed with {spec.ToNpgsqlConnectionString()}").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sslmode_maps_to_npgsql_and_unknown_values_are_rejected_when_parsed()
    {
        var s = ConnectionSpecParser.Parse("host=h user=u sslmode=verify-full", NoEnv).ToNpgsqlConnectionString();
        Assert.Contains("SSL Mode=VerifyFull", s, StringComparison.Ordinal);
        var ex = Assert.Throws<ConnectionSpecException>(() => ConnectionSpecParser.Parse("host=h user=u sslmode=sometimes", NoEnv));
        Assert.Contains("sslmode 'sometimes' is not one of", ex.Message, StringComparison.Ordinal);
    }

    private static string WritePgPass(string content)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("pgshift-pgpass").FullName, "pgpass");
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
