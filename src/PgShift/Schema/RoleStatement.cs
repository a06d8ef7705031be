namespace PgShift.Schema;

/// <summary>
/// Statements that name roles the target may not have (a policy's TO list; default privileges' FOR ROLE and grantee),
/// built once the target's roles are known. Like a grant to a missing role, a missing role is a warning, not a failure; so is a
/// statement the target user lacks the privilege for (default privileges for another role, a publication FOR ALL TABLES).
/// </summary>
/// <param name="Object">The object they belong to (left out when it is skipped); null for a database-wide setting.</param>
/// <param name="Display">For a person: <c>policy "p" on "s"."t"</c>.</param>
/// <param name="Roles">The roles named (PUBLIC is not a role and is never missing).</param>
/// <param name="Build">The statements, given the named roles the target has; empty when it cannot be said without the missing ones.</param>
public sealed record RoleStatement(SchemaObject? Object, string Display, IReadOnlyList<string> Roles, Func<IReadOnlyList<string>, IReadOnlyList<string>> Build)
{
    public const string Public = "PUBLIC";
}
