using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>target.create_privilege, target.session_replication_role.</summary>
public sealed class TargetPrivilegeCheck : IPrecheck
{
    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var t = c.TargetFacts;
        var user = Sql.Ident(t.CurrentUser);
        var results = new List<CheckResult>
        {
            t.CanCreateInDatabase || t.IsSuperuser
                ? CheckResult.Pass("target.create_privilege", $"Target role {t.CurrentUser} can create schemas in database {t.Database}.")
                : CheckResult.Fail("target.create_privilege", $"Target role {t.CurrentUser} cannot CREATE in database {t.Database}.",
                    $"GRANT CREATE ON DATABASE {Sql.Ident(t.Database)} TO {user};"),
        };
        if (c.Incremental)
        {
            results.Add(t.CanSetSessionReplicationRole
                ? CheckResult.Pass("target.session_replication_role", $"Target role {t.CurrentUser} may set session_replication_role = replica, so applied changes do not fire the target's triggers and foreign-key checks again.")
                : CheckResult.Warn("target.session_replication_role",
                    $"Target role {t.CurrentUser} may not set session_replication_role; foreign keys and triggers will be created at cutover instead of after the copy.",
                    t.Major >= 15 ? $"GRANT SET ON PARAMETER session_replication_role TO {user}; (as a superuser on the target)" : "Run the task as a superuser on the target to have them earlier."));
        }
        return Task.FromResult<IEnumerable<CheckResult>>(results);
    }
}
