using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.row_security: the copy reads each table as the source role, and row-level security policies that bind that
/// role hide rows from it without an error, so the target would silently miss them. A superuser or a BYPASSRLS role is
/// never bound; a table's owner is, only when the table forces row security.
/// </summary>
public sealed class RowSecurityCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var bound = await c.QuerySourceAsync(
            """
            SELECT c.oid FROM pg_class c
            WHERE c.relrowsecurity
              AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user)
              AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
            """,
            r => r.GetFieldValue<uint>(0), ct);
        var oids = bound.ToHashSet();
        var tables = c.DataTables.Where(t => oids.Contains(t.Oid)).Select(t => t.Name.ToString()).Order(StringComparer.Ordinal).ToList();
        var user = c.SourceFacts.CurrentUser;
        if (tables.Count == 0)
        {
            return [CheckResult.Pass("source.row_security", $"No row-level security policy hides rows of the selected tables from source role {user}.")];
        }
        return [CheckResult.Fail("source.row_security",
            $"Row-level security policies bind source role {user} on {tables.Count} selected tables ({NameList.Of(tables)}): the copy would miss the rows they hide.",
            $"ALTER ROLE {Sql.Ident(user)} BYPASSRLS; (or run the task as a superuser, or as the tables' owner when they do not FORCE ROW LEVEL SECURITY)")];
    }
}
