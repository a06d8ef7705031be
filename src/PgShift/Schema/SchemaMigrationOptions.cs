using System.Diagnostics.CodeAnalysis;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Schema;

/// <summary>The task's settings, for a schema phase.</summary>
public sealed record SchemaMigrationOptions : TaskSettings
{
    public SchemaMigrationOptions()
    {
    }

    [SetsRequiredMembers]
    public SchemaMigrationOptions(TaskSettings settings) : base(settings)
    {
    }

    /// <summary>
    /// The change stream follows: triggers and rules set ENABLE ALWAYS or ENABLE REPLICA would fire again for the
    /// applied changes, so they stay plain ENABLE (rules DISABLE, when the apply session cannot be a replica) until
    /// the cutover sets the source's state.
    /// </summary>
    public bool StreamFollows { get; init; }
    /// <summary>The apply session cannot set session_replication_role: foreign keys and triggers wait for the cutover.</summary>
    public bool DeferForeignKeysAndTriggers { get; init; }
    /// <summary>Limit post-data to these source tables (always-quoted names): at cutover, the ones the task copied.</summary>
    public IReadOnlySet<string>? KnownTables { get; init; }
    /// <summary>The target's major version, which decides the DDL written where versions differ; 0 until the target is reached.</summary>
    public int TargetMajor { get; init; }
    /// <summary>
    /// The built-in functions of the target (pg_proc.prosrc of LANGUAGE internal): a function of the source written in
    /// LANGUAGE internal can be created only if the target has its symbol. Empty until the target is reached.
    /// </summary>
    public IReadOnlySet<string> TargetInternalFunctions { get; init; } = new HashSet<string>(StringComparer.Ordinal);
    /// <summary>The target's role is a superuser: only a superuser may create a function in LANGUAGE internal (and so a base type).</summary>
    public bool TargetIsSuperuser { get; init; }
    /// <summary>Whether the target's server was built with lz4 (columns set to lz4 compression keep it only then).</summary>
    public bool TargetHasLz4 { get; init; }
    /// <summary>The configuration parameters the target's server has (a function's SET of one it lacks is refused there); null until the target is reached.</summary>
    public IReadOnlySet<string>? TargetSettings { get; init; }

    /// <summary>These options with what the target's server is: its version, build, built-in functions and whether the role is a superuser.</summary>
    public async Task<SchemaMigrationOptions> WithTargetAsync(Npgsql.NpgsqlConnection target, CancellationToken ct)
    {
        await using var cmd = new Npgsql.NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)),
                   coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
                   ARRAY(SELECT DISTINCT p.prosrc FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE l.lanname = 'internal'),
                   ARRAY(SELECT name FROM pg_settings)
            """, target);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return this with
        {
            TargetMajor = target.PostgreSqlVersion.Major,
            TargetHasLz4 = rd.GetBoolean(0),
            TargetIsSuperuser = rd.GetBoolean(1),
            TargetInternalFunctions = rd.GetFieldValue<string[]>(2).ToHashSet(StringComparer.Ordinal),
            TargetSettings = rd.GetFieldValue<string[]>(3).ToHashSet(StringComparer.Ordinal),
        };
    }
}

/// <summary>What a schema phase did: objects created, skipped by design (with the reason), and warnings.</summary>
public sealed class SchemaReport
{
    public List<string> Created { get; } = new();
    public List<string> AlreadyPresent { get; } = new();
    public List<(string Object, string Reason)> Skipped { get; } = new();
    public List<string> Warnings { get; } = new();
}
