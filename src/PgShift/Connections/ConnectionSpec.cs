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

    /// <summary>
    /// The same endpoint whose sessions are writable in a database fenced read-only (ALTER DATABASE ... SET
    /// default_transaction_read_only = on): a setting given at connection overrides the database's default for that session only.
    /// </summary>
    public ConnectionSpec ThroughFence()
    {
        const string writable = "-c default_transaction_read_only=off";
        var options = Settings.GetValueOrDefault("options");
        return options is not null && options.Contains(writable, StringComparison.Ordinal) ? this : WithSetting("options", options is null ? writable : options + " " + writable);
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
}

public readonly record struct HostPort(string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

/// <summary>A connection string that cannot be understood. The message never holds a password.</summary>
public sealed class ConnectionSpecException(string message, string? fix = null) : PgShiftException(message, fix);
