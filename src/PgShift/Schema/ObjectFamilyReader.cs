using System.Text.Json;
using Npgsql;
using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// Reads one family of object kinds from the source catalog into <see cref="SourceObjects"/>. The session runs with
/// an empty search_path (set by <see cref="SourceSchemaReader"/>), so the server's deparse functions qualify every name.
/// </summary>
internal abstract class ObjectFamilyReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read)
{
    protected const string UserSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";

    protected NpgsqlConnection Connection => conn;
    protected SchemaMigrationOptions Options => options;
    protected SourceObjects Read => read;
    protected Dictionary<string, SchemaObject> Objects => read.Objects;
    protected SelectedTables Selected => read.Selected;
    /// <summary>The source's major version: which catalog columns there are to read.</summary>
    protected int SourceMajor => conn.PostgreSqlVersion.Major;
    /// <summary>The target's major version: which syntax the statements are written in (the source's until the target is known).</summary>
    protected int TargetMajor => options.TargetMajor > 0 ? options.TargetMajor : SourceMajor;

    protected bool FromExtension(uint oid) => read.ExtensionOfObject.ContainsKey(oid);

    protected bool SchemaSelected(string schema) => options.Selection.IncludesSchema(schema);

    /// <summary>An object outside relations (type, function, collation...) moves when its schema is selected and no extension creates it.</summary>
    protected bool Migrates(uint oid, string schema) => !FromExtension(oid) && SchemaSelected(schema);

    /// <summary>A string property of a catalog row read as JSON (to_jsonb), whose columns differ between majors; null when absent.</summary>
    internal static string? JsonText(JsonElement row, string property)
        => row.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    protected SchemaObject Add(string key, ObjectKind kind, string schema, string name, string display)
    {
        var o = new SchemaObject(key, kind, schema, name, display);
        read.Objects[key] = o;
        return o;
    }

    protected static void Append<TKey, TValue>(Dictionary<TKey, List<TValue>> lists, TKey key, TValue value)
        where TKey : notnull
    {
        if (!lists.TryGetValue(key, out var list))
        {
            lists[key] = list = new List<TValue>();
        }
        list.Add(value);
    }

    protected Task QueryAsync(string sql, Action<NpgsqlDataReader> row, CancellationToken ct) => conn.ForEachRowAsync(sql, row, ct);
}
