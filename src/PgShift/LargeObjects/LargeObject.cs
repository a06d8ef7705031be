namespace PgShift.LargeObjects;

/// <summary>One privilege of a large object's ACL, as aclexplode gives it; PUBLIC as <see cref="Public"/>.</summary>
public readonly record struct LargeObjectGrant(string Grantee, string Privilege, bool Grantable)
{
    public const string Public = "PUBLIC";

    public override string ToString() => $"{Privilege} to {Grantee}{(Grantable ? " with grant option" : "")}";
}

/// <summary>
/// A large object as a server holds it, as of the snapshot that read it: its OID, owner, effective ACL (the default one,
/// owner may read and write, when none is set: that is what the object grants either way), comment and size in bytes.
/// </summary>
public sealed record LargeObject(uint Oid, string Owner, IReadOnlyList<LargeObjectGrant> Grants, string? Comment, long Size)
{
    /// <summary>Same owner, same privileges (in any order), same comment.</summary>
    public bool SameMetadata(LargeObject other)
        => Owner == other.Owner && Comment == other.Comment && SameGrants(Grants, other.Grants);

    public static bool SameGrants(IEnumerable<LargeObjectGrant> a, IEnumerable<LargeObjectGrant> b)
        => a.ToHashSet().SetEquals(b);
}
