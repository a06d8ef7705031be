using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// What the family readers of <see cref="SourceSchemaReader"/> build together: the objects to create by catalog key,
/// and the facts one family reads for another (which objects an extension creates, identity sequences' options).
/// </summary>
internal sealed class SourceObjects(SelectedTables selected)
{
    public SelectedTables Selected { get; } = selected;
    public Dictionary<string, SchemaObject> Objects { get; } = new(StringComparer.Ordinal);
    /// <summary>Objects created by an extension (oid to the extension's key): the extension creates them on the target.</summary>
    public Dictionary<uint, string> ExtensionOfObject { get; } = new();
    /// <summary>An identity column's sequence options, by the sequence's oid (the sequence is created with its column).</summary>
    public Dictionary<uint, string> IdentitySequenceOptions { get; } = new();
    /// <summary>
    /// A base type's input, output, receive and send functions (by key) to the type's key and its shell's: the functions
    /// are created on the shell, the type after them.
    /// </summary>
    public Dictionary<string, (string Type, string Shell)> ShellOfFunction { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Objects that what is read may depend on but that the target will not have, by key, each with what it is and why
    /// (an object of a schema not selected; an operator the target's major removed): their dependents are left out.
    /// </summary>
    public Dictionary<string, string> NotOnTarget { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Objects that pg_depend and pg_description name by a catalog of their own (text search objects, access methods,
    /// foreign-data objects, transforms, conversions): (catalog, oid) to the object's key, and its address after COMMENT ON.
    /// </summary>
    public Dictionary<(string Catalog, uint Oid), (string Key, string Address)> Addressed { get; } = new();
    /// <summary>What each foreign table's CREATE FOREIGN TABLE adds (its server, its columns' options), by the table's oid.</summary>
    public Dictionary<uint, ForeignTableClauses> ForeignTables { get; } = new();
    public List<string> Warnings { get; } = new();
    public List<SchemaObject> Skipped { get; } = new();

    /// <summary>Each object left out for a reason of its own, with the objects left out because they depend on it.</summary>
    public List<(SchemaObject Cause, List<SchemaObject> Dependents)> SkipSummaries()
    {
        SchemaObject CauseOf(SchemaObject o)
        {
            for (var seen = 0; o.SkippedWith is { } with && Objects.TryGetValue(with, out var next) && seen < Objects.Count; seen++)
            {
                o = next;
            }
            return o;
        }
        var dependents = Skipped.Where(o => o.SkippedWith is not null).ToLookup(CauseOf);
        return Skipped.Where(o => o.SkippedWith is null).Select(c => (c, dependents[c].ToList())).ToList();
    }
    public List<(SchemaObject Object, string Grantee, string Sql)> Grants { get; } = new();
    public List<RoleStatement> RoleStatements { get; } = new();
    /// <summary>Each object's owner on the source (none with --no-owner).</summary>
    public List<OwnerStatement> Owners { get; } = new();
}
