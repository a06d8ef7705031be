using System.Globalization;
using System.Text;
using Npgsql;

namespace PgShift.Connections;

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
        if (string.IsNullOrWhiteSpace(text))
        {
            return Complete(new Dictionary<string, string>(StringComparer.Ordinal), environment ?? CurrentEnvironment(), Redactor.Mask);
        }
        // Errors show the string with whatever could be a password masked, and quote a part of it only where that shows.
        var shown = Redactor.MaskConnectionString(text.Trim());
        try
        {
            return Complete(IsUri(text) ? ParseUri(text.Trim(), shown) : ParseKeywordValue(text, shown), environment ?? CurrentEnvironment(), shown);
        }
        catch (ConnectionSpecException ex)
        {
            throw new ConnectionSpecException($"The connection string {shown} is not understood: {ex.Message}", ex.Fix);
        }
    }

    /// <summary>' 'part'' when <paramref name="part"/> shows in the masked string (so it is no secret), else nothing.</summary>
    private static string Quote(string part, string shown)
        => part.Length > 0 && !part.Contains(Redactor.Mask, StringComparison.Ordinal) && shown.Contains(part, StringComparison.Ordinal) ? $" '{part}'" : "";

    // No password in the examples: the redaction would mask it, and the text must read as written.
    private const string FormsFix = "Write a URI such as postgresql://app@db.example.com:5432/app (postgres:// works too; the password goes after the user and a colon, "
        + "with special characters percent-encoded), or keyword/value pairs such as \"host=db.example.com port=5432 dbname=app user=app\" "
        + "(single-quote values with spaces: dbname='my db').";

    /// <summary>URI schemes of other databases, which a user may paste by mistake.</summary>
    private static readonly Dictionary<string, string> OtherSchemes = new(StringComparer.Ordinal)
    {
        ["mysql"] = "MySQL", ["mariadb"] = "MariaDB", ["mongodb"] = "MongoDB", ["mongodb+srv"] = "MongoDB", ["redis"] = "Redis",
        ["sqlserver"] = "SQL Server", ["mssql"] = "SQL Server", ["oracle"] = "Oracle", ["jdbc"] = "JDBC", ["sqlite"] = "SQLite",
    };

    private static readonly string[] SslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
    private static readonly string[] SessionAttributes = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby", "prefer-primary"];

    private static ConnectionSpec Complete(Dictionary<string, string> given, IReadOnlyDictionary<string, string?> environment, string shown)
    {
        foreach (var key in given.Keys)
        {
            if (!KnownKeywords.Contains(key))
            {
                var named = Quote(key, shown);
                throw new ConnectionSpecException($"{(named.Length > 0 ? named.TrimStart() : "a keyword")} is not a libpq connection keyword.",
                    "Use libpq keywords such as host, port, dbname, user, password, sslmode, connect_timeout, application_name.");
            }
        }
        if (given.TryGetValue("sslmode", out var givenSslMode) && !SslModes.Contains(givenSslMode))
        {
            throw new ConnectionSpecException($"sslmode{Quote(givenSslMode, shown)} is not one of {string.Join(", ", SslModes)}.",
                "Give sslmode one of those values: require for a server that only accepts TLS, verify-full (with sslrootcert) to check its certificate.");
        }
        if (given.TryGetValue("target_session_attrs", out var attrs) && !SessionAttributes.Contains(attrs))
        {
            throw new ConnectionSpecException($"target_session_attrs{Quote(attrs, shown)} is not one of {string.Join(", ", SessionAttributes)}.",
                "Give target_session_attrs one of those values (read-write or primary for a migration's target), or leave it out.");
        }
        if (given.TryGetValue("connect_timeout", out var timeout) && !int.TryParse(timeout, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            throw new ConnectionSpecException($"connect_timeout{Quote(timeout, shown)} is not a whole number of seconds.", "Give connect_timeout in seconds, e.g. connect_timeout=10.");
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
        var hosts = BuildHosts(hostText, portText, shown);
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

    /// <summary>
    /// Whether the text starts like a URI, "scheme:" (postgres://, but also postgress://, mysql:// or host:5432): keyword/value
    /// strings start with a keyword and '='. A URI of a scheme that is not PostgreSQL's is refused by <see cref="ParseUri"/>.
    /// </summary>
    private static bool IsUri(string text)
    {
        var t = text.TrimStart();
        var i = 0;
        while (i < t.Length && (char.IsAsciiLetterOrDigit(t[i]) || t[i] is '+' or '.' or '-'))
        {
            i++;
        }
        return i > 0 && char.IsAsciiLetter(t[0]) && i < t.Length && t[i] == ':';
    }

    private static List<HostPort> BuildHosts(string hostText, string portText, string shown)
    {
        var hostParts = hostText.Split(',');
        var portParts = portText.Split(',');
        if (portParts.Length != 1 && portParts.Length != hostParts.Length)
        {
            throw new ConnectionSpecException($"{hostParts.Length} hosts but {portParts.Length} ports were given.", "Give one port, or one per host.");
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
                throw new ConnectionSpecException($"the port{Quote(p, shown)} is not a number between 1 and 65535.",
                    "Give a port such as 5432: host:5432 in a URI, port=5432 in keyword/value form.");
            }
            result.Add(new HostPort(host, port));
        }
        return result;
    }

    // postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?keyword=value&...]
    private static Dictionary<string, string> ParseUri(string uri, string shown)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        var colonAt = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = uri[..colonAt];
        if (!scheme.Equals("postgresql", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase))
        {
            var known = OtherSchemes.GetValueOrDefault(scheme.ToLowerInvariant());
            throw new ConnectionSpecException(known is not null
                ? $"{scheme}:// is {known}'s scheme, not PostgreSQL's: a PostgreSQL URI starts with postgresql:// or postgres://."
                : $"it starts with{Quote(scheme + ":", shown)}{(Quote(scheme + ":", shown).Length == 0 ? " a prefix" : "")} where a PostgreSQL URI starts with postgresql:// or postgres://.", FormsFix);
        }
        if (!uri.AsSpan(colonAt).StartsWith("://", StringComparison.Ordinal))
        {
            throw new ConnectionSpecException($"a PostgreSQL URI starts with {scheme}:// (a colon and two slashes).", FormsFix);
        }
        var rest = uri[(colonAt + 3)..];
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
            d["dbname"] = Decode(rest[(slash + 1)..], "database name");
        }
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            ParseUserInfo(authority[..at], d);
            authority = authority[(at + 1)..];
        }
        if (authority.Length > 0)
        {
            ParseHosts(authority, shown, d);
        }
        if (!string.IsNullOrEmpty(query))
        {
            ParseQuery(query, shown, d);
        }
        return d;
    }

    /// <summary>user[:password], percent-decoded.</summary>
    private static void ParseUserInfo(string userInfo, Dictionary<string, string> d)
    {
        var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            d["user"] = Decode(userInfo[..colon], "user name");
            d["password"] = Decode(userInfo[(colon + 1)..], "password");
        }
        else if (userInfo.Length > 0)
        {
            d["user"] = Decode(userInfo, "user name");
        }
    }

    /// <summary>host[:port][,host[:port]...], IPv6 hosts in brackets.</summary>
    private static void ParseHosts(string authority, string shown, Dictionary<string, string> d)
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
                    throw new ConnectionSpecException($"the IPv6 host{Quote(part, shown)} has no closing ']'.", "Write an IPv6 host in brackets, e.g. postgres://app@[2001:db8::1]:5432/app.");
                }
                host = part[1..close];
                var after = part[(close + 1)..];
                if (after.StartsWith(':'))
                {
                    port = after[1..];
                }
                else if (after.Length > 0)
                {
                    throw new ConnectionSpecException($"something other than ':port'{Quote(after, shown)} follows the IPv6 host.", "Write an IPv6 host in brackets, e.g. postgres://app@[2001:db8::1]:5432/app.");
                }
            }
            else
            {
                var colon = part.LastIndexOf(':');
                host = colon >= 0 ? part[..colon] : part;
                port = colon >= 0 ? part[(colon + 1)..] : "";
            }
            hosts.Add(Decode(host, "host"));
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

    /// <summary>?keyword=value&amp;... (ssl=true is libpq's sslmode=require).</summary>
    private static void ParseQuery(string query, string shown, Dictionary<string, string> d)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ConnectionSpecException($"a URI parameter{Quote(pair, shown)} is not of the form keyword=value.",
                    "Write the parameters after '?' as keyword=value, separated by '&': ?sslmode=require&connect_timeout=10.");
            }
            var key = Decode(pair[..eq], "parameter name");
            d[key == "ssl" ? "sslmode" : key] = key == "ssl" && pair[(eq + 1)..] == "true" ? "require" : Decode(pair[(eq + 1)..], $"value of parameter {key}");
        }
    }

    /// <summary>Percent-decoding as libpq does it: '%' must be followed by two hexadecimal digits, and %00 is refused.</summary>
    private static string Decode(string s, string part)
    {
        if (!s.Contains('%', StringComparison.Ordinal))
        {
            return s;
        }
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '%')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
                continue;
            }
            if (i + 2 >= s.Length || !char.IsAsciiHexDigit(s[i + 1]) || !char.IsAsciiHexDigit(s[i + 2])
                || byte.Parse(s.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture) is var b && b == 0)
            {
                throw new ConnectionSpecException($"the {part} has an invalid percent-encoding: '%' must be followed by two hexadecimal digits (and %00 is not allowed).",
                    "Write a '%' sign as %25 (pa%25ss for pa%ss), and other special characters as %XX, e.g. %40 for '@', %2F for '/'.");
            }
            bytes.Add(b);
            i += 2;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    // keyword = value pairs; values may be single-quoted with \' and \\ escapes.
    private static Dictionary<string, string> ParseKeywordValue(string text, string shown)
    {
        var word = 0;
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
            word++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            if (i >= text.Length || text[i] != '=')
            {
                // The word may be a password typed without its keyword: it is never quoted.
                throw new ConnectionSpecException($"word {word} has no '=' (a keyword/value string is keyword=value pairs separated by spaces).", FormsFix);
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
                    throw new ConnectionSpecException($"the quoted value of{(Quote(key, shown) is { Length: > 0 } k ? k : " a keyword")} has no closing quote.",
                        "End the value with a single quote; write \\' for a quote and \\\\ for a backslash inside it.");
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
