using Npgsql;
using PgShift.Connections;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>
/// One of the real PostgreSQL servers that tests/servers/pg-servers.sh starts. A test that needs a
/// server and finds none fails, saying how to start them.
/// </summary>
public sealed class TestServer
{
    public static readonly TestServer Pg12 = new("PGSHIFT_PG12", 25412, 12);
    public static readonly TestServer Pg15 = new("PGSHIFT_PG15", 25415, 15);
    public static readonly TestServer Pg17 = new("PGSHIFT_PG17", 25417, 17);
    /// <summary>PostgreSQL 15 with wal_level = replica.</summary>
    public static readonly TestServer Pg15Replica = new("PGSHIFT_PG15R", 25425, 15);
    /// <summary>PostgreSQL 15 holding the regression database that `make installcheck` leaves (tests/corpus/regression-db.sh).</summary>
    public static readonly TestServer CorpusSource = new("PGSHIFT_CORPUS_SOURCE", 26950, 15);
    public static readonly TestServer CorpusTarget15 = new("PGSHIFT_CORPUS_TARGET15", 26951, 15);
    public static readonly TestServer CorpusTarget17 = new("PGSHIFT_CORPUS_TARGET17", 26952, 17);

    private const string ExtensionPairHint =
        "The extension servers are started by tests/servers/pg-servers.sh only where it can install Debian's postgresql-15-postgis-3, " +
        "postgresql-15-partman and postgresql-15-periods (as root, with apt-get): see its log for why it did not.";
    /// <summary>Debian's PostgreSQL 15 with PostGIS, pg_partman and periods installed: the source of the extension tests.</summary>
    public static readonly TestServer Ext15Source = new("PGSHIFT_EXT15S", 25435, 15, ExtensionPairHint);
    /// <summary>The target of the extension tests (the same packages).</summary>
    public static readonly TestServer Ext15Target = new("PGSHIFT_EXT15T", 25436, 15, ExtensionPairHint);

    /// <summary>A role in this group authenticates with a password (scram-sha-256); every other role is trusted.</summary>
    public const string PasswordGroup = "pgshift_password_users";

    private readonly string _envVar;
    private readonly string? _hint;

    /// <summary>A server a test class started for itself (<see cref="WholeServers"/>), at <paramref name="connectionString"/>.</summary>
    public static TestServer Started(string connectionString, int major) => new("its test fixture", 0, major, connectionString: connectionString);

    private TestServer(string envVar, int defaultPort, int major, string? hint = null, string? connectionString = null)
    {
        _envVar = envVar;
        _hint = hint;
        Major = major;
        var fromEnv = connectionString ?? Environment.GetEnvironmentVariable(envVar);
        AdminConnectionString = string.IsNullOrEmpty(fromEnv)
            ? $"Host=127.0.0.1;Port={defaultPort};Username=postgres;Database=postgres"
            : fromEnv;
        var b = new NpgsqlConnectionStringBuilder(AdminConnectionString);
        Host = b.Host!;
        Port = b.Port;
    }

    public int Major { get; }
    public string Host { get; }
    public int Port { get; }
    public string AdminConnectionString { get; }

    public override string ToString() => $"PostgreSQL {Major} at {Host}:{Port}";

    public string ConnectionString(string database, string user = "postgres", string? password = null)
    {
        var b = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database, Username = user, Pooling = false, Timeout = 15 };
        if (password is not null)
        {
            b.Password = password;
        }
        return b.ConnectionString;
    }

    /// <summary>A PgShift connection spec (libpq keyword/value form, as a user would type it).</summary>
    public ConnectionSpec Spec(string database, string user = "postgres", string? password = null)
        => ConnectionSpecParser.Parse(KeywordValue(database, user, password), new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    public string KeywordValue(string database, string user = "postgres", string? password = null)
        => $"host={Host} port={Port} dbname='{database.Replace("'", "\\'", StringComparison.Ordinal)}' user={user}" + (password is null ? "" : $" password='{password}'");

    public async Task<NpgsqlConnection> OpenAsync(string database = "postgres")
    {
        var conn = new NpgsqlConnection(ConnectionString(database));
        try
        {
            await conn.OpenAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException)
        {
            await conn.DisposeAsync();
            throw new InvalidOperationException(
                $"{this} is not reachable ({ex.Message}). Start the test servers first: bash tests/servers/pg-servers.sh start " +
                $"(or run the whole suite with bash scripts/test.sh). Override the address with {_envVar}." + (_hint is null ? "" : $" {_hint}"), ex);
        }
        return conn;
    }

    /// <summary>Fails the test, saying how to get them, when the server lacks any of these extensions.</summary>
    public async Task RequireExtensionsAsync(params string[] extensions)
    {
        await using var conn = await OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT array_agg(x ORDER BY x) FROM unnest(@wanted) x WHERE x NOT IN (SELECT name FROM pg_available_extensions)", conn);
        cmd.Parameters.AddWithValue("wanted", extensions);
        if (await cmd.ExecuteScalarAsync() is string[] { Length: > 0 } missing)
        {
            Assert.Fail($"{this} lacks the extensions {string.Join(", ", missing)}. {_hint ?? "Install them on that server."}");
        }
    }

    /// <summary>A fixture's statements may load hundreds of thousands of rows on a busy machine: they get minutes, not Npgsql's 30 s.</summary>
    private const int FixtureCommandTimeoutSeconds = 600;

    public async Task ExecuteAsync(string database, string sql)
    {
        await using var conn = await OpenAsync(database);
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = FixtureCommandTimeoutSeconds };
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<T?> ScalarAsync<T>(string database, string sql)
    {
        await using var conn = await OpenAsync(database);
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = FixtureCommandTimeoutSeconds };
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    /// <summary>Creates a fresh, uniquely named database and returns its name.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)].ToLowerInvariant();
        await ExecuteAsync("postgres", $"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'");
        return name;
    }

    public async Task DropDatabaseAsync(string name)
    {
        // Terminate leftovers (a slot's walsender, a pooled session) so the drop cannot hang.
        await ExecuteAsync("postgres", $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
        await ExecuteAsync("postgres", $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{name}' AND NOT active");
        await ExecuteAsync("postgres", $"DROP DATABASE IF EXISTS \"{name}\"");
    }
}
