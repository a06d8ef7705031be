using Npgsql;

namespace PgShift.Catalog;

/// <summary>What a precheck or a task needs to know about one server and the connecting role.</summary>
public sealed class ServerFacts
{
    public required int VersionNum { get; init; }
    public required string Version { get; init; }
    public required string Database { get; init; }
    public required string Encoding { get; init; }
    public required string CurrentUser { get; init; }
    public required bool IsSuperuser { get; init; }
    public required bool HasReplication { get; init; }
    public required bool IsRdsSuperuser { get; init; }
    public required bool IsRdsReplication { get; init; }
    public required bool IsRds { get; init; }
    public required string WalLevel { get; init; }
    public required int MaxReplicationSlots { get; init; }
    public required int UsedReplicationSlots { get; init; }
    public required int MaxWalSenders { get; init; }
    public required int UsedWalSenders { get; init; }
    /// <summary>In MB; -1 is unlimited; null before PostgreSQL 13.</summary>
    public int? MaxSlotWalKeepSizeMb { get; init; }
    public required bool CanCreateInDatabase { get; init; }
    /// <summary>Superuser, or (PostgreSQL 15+) granted SET on the parameter.</summary>
    public required bool CanSetSessionReplicationRole { get; init; }
    public string? SystemIdentifier { get; init; }
    public required IReadOnlySet<string> Extensions { get; init; }
    public required IReadOnlySet<string> AvailableExtensions { get; init; }

    public int Major => VersionNum / 10000;

    public static async Task<ServerFacts> LoadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        int versionNum;
        await using (var cmd = new NpgsqlCommand("SELECT current_setting('server_version_num')::int", conn))
        {
            versionNum = (int)(await cmd.ExecuteScalarAsync(ct))!;
        }
        var systemIdentifier = await TryReadSystemIdentifierAsync(conn, ct);
        var hasParamPriv = versionNum >= 150000
            ? "has_parameter_privilege('session_replication_role', 'SET')"
            : "false";
        var walKeep = versionNum >= 130000 ? "(SELECT setting::int FROM pg_settings WHERE name = 'max_slot_wal_keep_size')" : "NULL::int";
        var sql = $"""
            SELECT current_setting('server_version'),
                   current_database(),
                   pg_encoding_to_char(d.encoding),
                   current_user,
                   r.rolsuper,
                   r.rolreplication,
                   EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser') AND pg_has_role('rds_superuser', 'MEMBER'),
                   EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') AND pg_has_role('rds_replication', 'MEMBER'),
                   EXISTS (SELECT 1 FROM pg_settings WHERE name = 'rds.logical_replication'),
                   current_setting('wal_level'),
                   current_setting('max_replication_slots')::int,
                   (SELECT count(*)::int FROM pg_replication_slots),
                   current_setting('max_wal_senders')::int,
                   (SELECT count(*)::int FROM pg_stat_replication),
                   {walKeep},
                   has_database_privilege(current_database(), 'CREATE'),
                   r.rolsuper OR {hasParamPriv},
                   (SELECT array_agg(extname::text) FROM pg_extension),
                   (SELECT array_agg(name::text) FROM pg_available_extensions)
            FROM pg_database d, pg_roles r
            WHERE d.datname = current_database() AND r.rolname = current_user
            """;
        await using var c2 = new NpgsqlCommand(sql, conn);
        await using var rd = await c2.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return new ServerFacts
        {
            VersionNum = versionNum,
            Version = rd.GetString(0),
            Database = rd.GetString(1),
            Encoding = rd.GetString(2),
            CurrentUser = rd.GetString(3),
            IsSuperuser = rd.GetBoolean(4),
            HasReplication = rd.GetBoolean(5),
            IsRdsSuperuser = rd.GetBoolean(6),
            IsRdsReplication = rd.GetBoolean(7),
            IsRds = rd.GetBoolean(8),
            WalLevel = rd.GetString(9),
            MaxReplicationSlots = rd.GetInt32(10),
            UsedReplicationSlots = rd.GetInt32(11),
            MaxWalSenders = rd.GetInt32(12),
            UsedWalSenders = rd.GetInt32(13),
            MaxSlotWalKeepSizeMb = rd.IsDBNull(14) ? null : rd.GetInt32(14),
            CanCreateInDatabase = rd.GetBoolean(15),
            CanSetSessionReplicationRole = rd.GetBoolean(16),
            Extensions = ToSet(rd.IsDBNull(17) ? [] : rd.GetFieldValue<string[]>(17)),
            AvailableExtensions = ToSet(rd.IsDBNull(18) ? [] : rd.GetFieldValue<string[]>(18)),
            SystemIdentifier = systemIdentifier,
        };
    }

    private static async Task<string?> TryReadSystemIdentifierAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        // pg_control_system() can be revoked on managed services; the check then falls back to host and port.
        try
        {
            await using var cmd = new NpgsqlCommand("SELECT system_identifier::text FROM pg_control_system()", conn);
            return (string?)await cmd.ExecuteScalarAsync(ct);
        }
        catch (PostgresException)
        {
            return null;
        }
    }

    private static HashSet<string> ToSet(string[] values) => new(values, StringComparer.Ordinal);
}
