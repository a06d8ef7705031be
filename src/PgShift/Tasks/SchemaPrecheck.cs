using Npgsql;
using PgShift.Catalog;
using PgShift.Precheck;
using PgShift.Schema;
using PgShift.Settings;

namespace PgShift.Tasks;

/// <summary>
/// What the schema phase will do, found by reading the source as that phase reads it (so the precheck and the task
/// cannot disagree): source.unsupported_objects, exactly what it will leave out, with why and with what depends on it;
/// target.roles, the owners and grantees it needs on the target. Lives here, not in Precheck, as it uses the Schema stage.
/// </summary>
public sealed class SchemaPrecheck(TaskSettings settings) : IPrecheck
{
    /// <summary>Every check of a migration task's precheck, this one included.</summary>
    public static PrecheckRunner Runner(TaskSettings settings) => new(new SchemaPrecheck(settings));

    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!settings.Schema)
        {
            return [CheckResult.Pass("source.unsupported_objects", "The task creates no schema (--types without schema): it leaves nothing out.")];
        }
        var reader = new SourceSchemaReader(c.Source, new SchemaMigrationOptions(settings));
        await ExecAsync(c.Source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ct);
        try
        {
            await reader.ReadPreDataAsync(ct);
        }
        finally
        {
            // The reader empties the session's search_path; the checks after this one read with the usual one.
            await ExecAsync(c.Source, "COMMIT; RESET search_path", CancellationToken.None);
        }
        var roles = await RolesCheckAsync(reader, c, ct);
        var skips = reader.SkipSummaries();
        if (skips.Count == 0)
        {
            return [CheckResult.Pass("source.unsupported_objects", "No objects that PgShift does not migrate."), roles];
        }
        var described = skips.Select(s => $"{s.Cause.Display} ({s.Cause.SkipReason}"
            + (s.Dependents.Count == 0 ? ")" : $"; and with it {string.Join(", ", s.Dependents.Select(d => d.Display))})"));
        var count = skips.Sum(s => 1 + s.Dependents.Count);
        return
        [
            CheckResult.Warn("source.unsupported_objects",
                $"{Plural.Of(count, "object")} will not be migrated: {NameList.Of(described)}.",
                "Create what a C function or a base type needs on the target first (its shared library), select the tables these objects depend on, or leave them out."),
            roles,
        ];
    }

    /// <summary>
    /// target.roles: the roles that own migrated objects or are granted on them exist on the target, and the target's user
    /// may give objects to the owners; otherwise those objects stay the target user's and those grants are not made.
    /// </summary>
    private async Task<CheckResult> RolesCheckAsync(SourceSchemaReader reader, PrecheckContext c, CancellationToken ct)
    {
        var target = await TargetRoles.ReadAsync(c.Target, null, ct);
        var owned = reader.Owners.Where(o => o.Object.SkipReason is null && o.Role != target.Me)
            .GroupBy(o => o.Role, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var granted = reader.Grants.Where(g => g.Object.SkipReason is null).Select(g => g.Grantee)
            .Concat(reader.RoleStatements.SelectMany(r => r.Roles)).Where(r => r != RoleStatement.Public).ToHashSet(StringComparer.Ordinal);
        var missing = owned.Keys.Concat(granted).Where(r => !target.Existing.Contains(r)).Distinct().Order(StringComparer.Ordinal).ToList();
        var notMember = owned.Keys.Where(r => target.Existing.Contains(r) && !target.Assignable.Contains(r)).Order(StringComparer.Ordinal).ToList();
        var me = Sql.Ident(target.Me);
        string Described(string role) => Sql.Ident(role) + (owned.TryGetValue(role, out var n) ? $" (owner of {n} object{(n == 1 ? "" : "s")})" : " (granted privileges)");
        if (missing.Count > 0)
        {
            return CheckResult.Warn("target.roles",
                (missing.Count == 1 ? "1 role that owns or is granted migrated objects does" : $"{missing.Count} roles that own or are granted migrated objects do")
                + " not exist on the target: "
                + $"{NameList.Of(missing.Select(Described))}. Their objects would belong to {me}, and their privileges would not be migrated."
                + (notMember.Count > 0 ? $" {me} is also not a member of {NameList.Of(notMember.Select(Sql.Ident))}, whose objects it cannot give away." : ""),
                "Create the roles on the target first (pg_dumpall --roles-only --no-role-passwords on the source prints them; set their passwords anew), "
                + $"or pass --no-owner to leave every object to {me}.");
        }
        if (notMember.Count > 0)
        {
            return CheckResult.Warn("target.roles",
                $"The target's user {me} is neither a superuser nor a member of {NameList.Of(notMember.Select(Described))}: their objects would belong to {me}.",
                $"On the target, GRANT {string.Join(", ", notMember.Select(Sql.Ident))} TO {me}, or pass --no-owner to leave every object to {me}.");
        }
        return CheckResult.Pass("target.roles", settings.Owners
            ? "Every role that owns or is granted a migrated object exists on the target, and the target's user may give objects to the owners."
            : $"--no-owner: every object will belong to {me}; the roles granted privileges exist on the target.");
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
