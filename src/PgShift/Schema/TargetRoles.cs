using Npgsql;

namespace PgShift.Schema;

/// <summary>
/// The target's roles as the schema phase needs them: which exist, who the target's user is, and which roles it may
/// give objects to (a superuser may give to any; anyone else to the roles it is a member of, with SET from 16 on).
/// </summary>
public sealed record TargetRoles(string Me, bool Superuser, IReadOnlySet<string> Existing, IReadOnlySet<string> Assignable)
{
    public static async Task<TargetRoles> ReadAsync(NpgsqlConnection target, NpgsqlTransaction? tx, CancellationToken ct)
    {
        // PostgreSQL 16 split membership into options: giving an object away needs SET on the role.
        var privilege = target.PostgreSqlVersion.Major >= 16 ? "SET" : "MEMBER";
        await using var cmd = new NpgsqlCommand($"""
            SELECT current_user, s.rolsuper, ARRAY(SELECT rolname FROM pg_roles),
                   ARRAY(SELECT r.rolname FROM pg_roles r WHERE s.rolsuper OR pg_has_role(current_user, r.oid, '{privilege}'))
            FROM pg_roles s WHERE s.rolname = current_user
            """, target, tx);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        await rd.ReadAsync(ct);
        return new TargetRoles(rd.GetString(0), rd.GetBoolean(1),
            rd.GetFieldValue<string[]>(2).ToHashSet(StringComparer.Ordinal), rd.GetFieldValue<string[]>(3).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>Why <paramref name="role"/> cannot own what the task creates; null when it can.</summary>
    public string? WhyNotOwner(string role)
        => !Existing.Contains(role) ? $"role {Catalog.Sql.Ident(role)} does not exist on the target"
            : !Assignable.Contains(role) ? $"the target's user {Catalog.Sql.Ident(Me)} is not a member of role {Catalog.Sql.Ident(role)}"
            : null;
}
