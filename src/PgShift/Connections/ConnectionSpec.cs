using System.Globalization;
using System.Text;
using Npgsql;

namespace PgShift.Connections;

/// <summary>
/// Where and as whom to connect: one endpoint as a PostgreSQL user wrote it (a libpq URI or a
/// keyword/value string), completed from the PG* environment variables and the password file.
/// <see cref="ToString"/> never contains the password.
/// </summary>
public sealed class ConnectionSpec
{
    internal ConnectionSpec(IReadOnlyList<HostPort> hosts, string database, string user, string? password,
        IReadOnlyDictionary<string, string> settings)
    {
        Hosts = hosts;
        Database = database;
        User = user;
        Password = password;
        Settings = settings;
        if (!string.IsNullOrEmpty(password))
        {
            Redactor.Register(password);
        }
    }

    public IReadOnlyList<HostPort> Hosts { get; }
    public string Database { get; }
    public string User { get; }
    public string? Password { get; }

    /// <summary>Other libpq keywords that were given (sslmode, connect_timeout, ...), by keyword.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    public string HostDisplay => string.Join(',', Hosts.Select(h => h.ToString()));

    /// <summary>user@host:port/database — safe to print and to store.</summary>
    public override string ToString() => $"{User}@{HostDisplay}/{Database}";

    public ConnectionSpec WithDatabase(string database) => new(Hosts, database, User, Password, Settings);

    public ConnectionSpec WithSetting(string keyword, string value)
    {
        var s = new Dictionary<string, string>(Settings, StringComparer.Ordinal) { [keyword] = value };
        return new ConnectionSpec(Hosts, Database, User, Password, s);
    }

    /// <summary>The Npgsql connection string. Holds the password: never log it.</summary>
    public string ToNpgsqlConnectionString(string applicationName = "pgshift", int? connectTimeoutSeconds = null)
    {
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = string.Join(',', Hosts.Select(h => h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]:{h.Port}" : $"{h.Host}:{h.Port}")),
            Database = Database,
            Username = User,
            ApplicationName = Settings.GetValueOrDefault("application_name", applicationName),
            // Long index builds and COPYs must never be cut short by a client-side timeout.
            CommandTimeout = 0,
            KeepAlive = 30,
            IncludeErrorDetail = true,
            // PgShift holds few, long-lived sessions; a pooled one that a server restart killed would fail its
            // first command instead of reconnecting, so every open is a fresh connection.
            Pooling = false,
        };
        if (!string.IsNullOrEmpty(Password))
        {
            b.Password = Password;
        }
        if (Settings.TryGetValue("sslmode", out var sslmode))
        {
            b.SslMode = sslmode switch
            {
                "disable" => SslMode.Disable,
                "allow" => SslMode.Allow,
                "prefer" => SslMode.Prefer,
                "require" => SslMode.Require,
                "verify-ca" => SslMode.VerifyCA,
                "verify-full" => SslMode.VerifyFull,
                _ => throw new ConnectionSpecException($"sslmode '{sslmode}' is not one of disable, allow, prefer, require, verify-ca, verify-full."),
            };
        }
        if (Settings.TryGetValue("sslrootcert", out var rootCert))
        {
            b.RootCertificate = rootCert;
        }
        if (Settings.TryGetValue("sslcert", out var cert))
        {
            b.SslCertificate = cert;
        }
        if (Settings.TryGetValue("sslkey", out var key))
        {
            b.SslKey = key;
        }
        if (Settings.TryGetValue("options", out var options))
        {
            b.Options = options;
        }
        if (Settings.TryGetValue("target_session_attrs", out var tsa))
        {
            b.TargetSessionAttributes = tsa;
        }
        var timeout = connectTimeoutSeconds;
        if (timeout is null && Settings.TryGetValue("connect_timeout", out var ct) && int.TryParse(ct, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
        {
            timeout = parsed;
        }
        b.Timeout = timeout ?? 15;
        return b.ConnectionString;
    }

    public NpgsqlDataSource CreateDataSource(string applicationName = "pgshift", int? connectTimeoutSeconds = null)
        => NpgsqlDataSource.Create(ToNpgsqlConnectionString(applicationName, connectTimeoutSeconds: connectTimeoutSeconds));
}

public readonly record struct HostPort(string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

/// <summary>A connection string that cannot be understood. The message never holds a password.</summary>
public sealed class ConnectionSpecException(string message) : Exception(Redactor.Redact(message));

/// <summary>Reads the forms of connection strings PostgreSQL users already type.</summary>
public static class ConnectionSpecParser
{
    private static readonly HashSet<string> KnownKeywords = new(StringComparer.Ordinal)
    {
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "sslrootcert",
        "sslcert", "sslkey", "connect_timeout", "application_name", "options", "target_session_attrs",
        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "sslcompression",
        "gssencmode", "client_encoding", "fallback_application_name", "channel_binding", "requiressl",
    };

    private static readonly (string Env, string Keyword)[] EnvironmentKeywords =
    {
        ("PGHOST", "host"), ("PGHOSTADDR", "hostaddr"), ("PGPORT", "port"), ("PGDATABASE", "dbname"),
        ("PGUSER", "user"), ("PGPASSWORD", "password"), ("PGPASSFILE", "passfile"), ("PGSSLMODE", "sslmode"),
        ("PGSSLROOTCERT", "sslrootcert"), ("PGSSLCERT", "sslcert"), ("PGSSLKEY", "sslkey"),
        ("PGCONNECT_TIMEOUT", "connect_timeout"), ("PGAPPNAME", "application_name"), ("PGOPTIONS", "options"),
        ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    };

    /// <summary>
    /// Parses <paramref name="text"/> (URI or keyword/value; empty means "all from the environment"),
    /// then fills what is missing from <paramref name="environment"/> (PG* variables) and the password file.
    /// </summary>
    public static ConnectionSpec Parse(string? text, IReadOnlyDictionary<string, string?>? environment = null)
    {
        environment ??= CurrentEnvironment();
        var given = string.IsNullOrWhiteSpace(text) ? new Dictionary<string, string>(StringComparer.Ordinal)
            : IsUri(text) ? ParseUri(text.Trim()) : ParseKeywordValue(text);

        foreach (var key in given.Keys)
        {
            if (!KnownKeywords.Contains(key))
            {
                throw new ConnectionSpecException($"Unknown connection keyword '{key}'. Use libpq keywords such as host, port, dbname, user, password, sslmode.");
            }
        }

        var all = new Dictionary<string, string>(given, StringComparer.Ordinal);
        foreach (var (env, keyword) in EnvironmentKeywords)
        {
            if (!all.ContainsKey(keyword) && environment.TryGetValue(env, out var v) && !string.IsNullOrEmpty(v))
            {
                all[keyword] = v;
            }
        }

        var hostText = all.GetValueOrDefault("host") ?? all.GetValueOrDefault("hostaddr") ?? "localhost";
        var portText = all.GetValueOrDefault("port") ?? "5432";
        var hosts = BuildHosts(hostText, portText);
        var user = all.GetValueOrDefault("user") ?? environment.GetValueOrDefault("USER") ?? Environment.UserName;
        var database = all.GetValueOrDefault("dbname") ?? user;
        all.TryGetValue("password", out var password);
        if (string.IsNullOrEmpty(password))
        {
            var passfile = all.GetValueOrDefault("passfile") ?? DefaultPassFile(environment);
            if (passfile is not null)
            {
                password = PgPassFile.Lookup(passfile, hosts[0].Host, hosts[0].Port, database, user);
            }
        }

        var settings = all.Where(kv => kv.Key is not ("host" or "hostaddr" or "port" or "dbname" or "user" or "password" or "passfile"))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new ConnectionSpec(hosts, database, user, string.IsNullOrEmpty(password) ? null : password, settings);
    }

    public static IReadOnlyDictionary<string, string?> CurrentEnvironment()
    {
        var d = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            d[(string)e.Key] = e.Value as string;
        }
        return d;
    }

    private static string? DefaultPassFile(IReadOnlyDictionary<string, string?> environment)
    {
        var home = environment.GetValueOrDefault("HOME");
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        }
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".pgpass");
    }

    private static bool IsUri(string text)
    {
        var t = text.TrimStart();
        return t.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || t.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);
    }

    private static List<HostPort> BuildHosts(string hostText, string portText)
    {
        var hostParts = hostText.Split(',');
        var portParts = portText.Split(',');
        if (portParts.Length != 1 && portParts.Length != hostParts.Length)
        {
            throw new ConnectionSpecException($"{hostParts.Length} hosts but {portParts.Length} ports were given; give one port, or one per host.");
        }
        var result = new List<HostPort>();
        for (var i = 0; i < hostParts.Length; i++)
        {
            var host = hostParts[i].Trim();
            if (host.Length == 0)
            {
                host = "localhost";
            }
            var p = (portParts.Length == 1 ? portParts[0] : portParts[i]).Trim();
            if (p.Length == 0)
            {
                p = "5432";
            }
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new ConnectionSpecException($"Port '{p}' is not a number between 1 and 65535.");
            }
            result.Add(new HostPort(host, port));
        }
        return result;
    }

    // postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?keyword=value&...]
    private static Dictionary<string, string> ParseUri(string uri)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = uri[(uri.IndexOf("://", StringComparison.Ordinal) + 3)..];
        string? query = null;
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash >= 0 ? rest[..slash] : rest;
        if (slash >= 0 && slash + 1 < rest.Length)
        {
            d["dbname"] = Decode(rest[(slash + 1)..]);
        }
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                d["user"] = Decode(userInfo[..colon]);
                d["password"] = Decode(userInfo[(colon + 1)..]);
            }
            else if (userInfo.Length > 0)
            {
                d["user"] = Decode(userInfo);
            }
        }
        if (authority.Length > 0)
        {
            var hosts = new List<string>();
            var ports = new List<string>();
            foreach (var part in authority.Split(','))
            {
                string host, port = "";
                if (part.StartsWith('['))
                {
                    var close = part.IndexOf(']', StringComparison.Ordinal);
                    if (close < 0)
                    {
                        throw new ConnectionSpecException($"IPv6 host '{part}' has no closing ']'. Write it as [::1]:5432.");
                    }
                    host = part[1..close];
                    var after = part[(close + 1)..];
                    if (after.StartsWith(':'))
                    {
                        port = after[1..];
                    }
                    else if (after.Length > 0)
                    {
                        throw new ConnectionSpecException($"Unexpected '{after}' after IPv6 host [{host}].");
                    }
                }
                else
                {
                    var colon = part.LastIndexOf(':');
                    host = colon >= 0 ? part[..colon] : part;
                    port = colon >= 0 ? part[(colon + 1)..] : "";
                }
                hosts.Add(Decode(host));
                ports.Add(port);
            }
            if (hosts.Any(h => h.Length > 0))
            {
                d["host"] = string.Join(',', hosts);
            }
            if (ports.Any(p => p.Length > 0))
            {
                d["port"] = string.Join(',', ports);
            }
        }
        if (!string.IsNullOrEmpty(query))
        {
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new ConnectionSpecException($"URI parameter '{Redactor.Redact(pair)}' has no '='; write keyword=value.");
                }
                var key = Decode(pair[..eq]);
                d[key == "ssl" ? "sslmode" : key] = key == "ssl" && pair[(eq + 1)..] == "true" ? "require" : Decode(pair[(eq + 1)..]);
            }
        }
        return d;
    }

    private static string Decode(string s)
    {
        try
        {
            return Uri.UnescapeDataString(s);
        }
        catch (UriFormatException)
        {
            throw new ConnectionSpecException("The connection URI has an invalid percent-encoding.");
        }
    }

    // keyword = value pairs; values may be single-quoted with \' and \\ escapes.
    private static Dictionary<string, string> ParseKeywordValue(string text)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            if (i >= text.Length)
            {
                break;
            }
            var start = i;
            while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            var key = text[start..i];
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            if (i >= text.Length || text[i] != '=')
            {
                throw new ConnectionSpecException($"Missing '=' after '{key}' in the connection string. Write keyword=value pairs such as \"host=db.example.com dbname=app\", or a URI such as postgres://user@host:5432/app.");
            }
            i++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                i++;
                var closed = false;
                while (i < text.Length)
                {
                    var c = text[i++];
                    if (c == '\\' && i < text.Length)
                    {
                        value.Append(text[i++]);
                    }
                    else if (c == '\'')
                    {
                        closed = true;
                        break;
                    }
                    else
                    {
                        value.Append(c);
                    }
                }
                if (!closed)
                {
                    throw new ConnectionSpecException($"The quoted value of '{key}' has no closing quote.");
                }
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    var c = text[i++];
                    if (c == '\\' && i < text.Length)
                    {
                        c = text[i++];
                    }
                    value.Append(c);
                }
            }
            d[key] = value.ToString();
        }
        return d;
    }
}
