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
    public List<string> Warnings { get; } = new();
    public List<SchemaObject> Skipped { get; } = new();
    public List<(SchemaObject Object, string Grantee, string Sql)> Grants { get; } = new();
    public List<RoleStatement> RoleStatements { get; } = new();
}
