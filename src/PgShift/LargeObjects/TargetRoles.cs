using System.Collections.Concurrent;

namespace PgShift.LargeObjects;

/// <summary>
/// How a source object's owner and grants land on the target: a role missing there is replaced by the task's user when
/// it owns the object, and left out of the grants otherwise; either way it is remembered for one warning per role.
/// </summary>
public sealed class TargetRoles(HashSet<string> roles, string currentUser)
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<uint, bool>> _missingOwners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<uint, bool>> _missingGrantees = new(StringComparer.Ordinal);

    /// <summary>The role PgShift connects to the target as: the owner of what it creates.</summary>
    public string CurrentUser { get; } = currentUser;

    /// <summary>The object as it should be on the target: the source's, with the roles the target lacks replaced or left out.</summary>
    public LargeObject Desired(LargeObject source)
    {
        var ownerExists = roles.Contains(source.Owner);
        if (!ownerExists)
        {
            _missingOwners.GetOrAdd(source.Owner, _ => new()).TryAdd(source.Oid, true);
        }
        var grants = new List<LargeObjectGrant>();
        foreach (var g in source.Grants)
        {
            if (g.Grantee == LargeObjectGrant.Public || roles.Contains(g.Grantee))
            {
                grants.Add(g);
            }
            else if (g.Grantee == source.Owner)
            {
                grants.Add(g with { Grantee = CurrentUser });
            }
            else
            {
                _missingGrantees.GetOrAdd(g.Grantee, _ => new()).TryAdd(source.Oid, true);
            }
        }
        return source with { Owner = ownerExists ? source.Owner : CurrentUser, Grants = grants.Distinct().ToList() };
    }

    /// <summary>One line per missing role: which objects it concerns, and what to do.</summary>
    public List<string> Warnings()
    {
        var warnings = new List<string>();
        foreach (var (role, oids) in _missingOwners.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            warnings.Add($"Role {role} does not exist on the target: the {Objects(oids.Keys)} it owns on the source {(oids.Count == 1 ? "is" : "are")} owned by {CurrentUser} there. " +
                "Create the role on the target before the cutover (which then gives them back to it), or change their owner with ALTER LARGE OBJECT <oid> OWNER TO <role>.");
        }
        foreach (var (role, oids) in _missingGrantees.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            warnings.Add($"Role {role} does not exist on the target: its privileges on the {Objects(oids.Keys)} are not granted there. " +
                "Create the role on the target before the cutover, which grants them then.");
        }
        return warnings;
    }

    private static string Objects(ICollection<uint> oids)
    {
        var sorted = oids.Order().ToList();
        var shown = string.Join(", ", sorted.Take(5));
        return sorted.Count == 1 ? $"large object {shown}" : $"{sorted.Count} large objects ({shown}{(sorted.Count > 5 ? ", ..." : "")})";
    }
}
