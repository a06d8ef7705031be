using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// A reader of objects that pg_depend and pg_description name by a catalog of their own (pg_ts_config, pg_am,
/// pg_foreign_server, ...): each is registered in <see cref="SourceObjects.Addressed"/>, so that dependencies order
/// it and <see cref="AddressedCommentReader"/> finds its comment.
/// </summary>
internal abstract class AddressedObjectReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    /// <param name="address">What follows COMMENT ON (and ALTER) to name it, e.g. <c>TEXT SEARCH CONFIGURATION s.c</c>.</param>
    /// <param name="schema">Its schema; empty for objects of the whole database (access methods, wrappers, servers, transforms).</param>
    protected SchemaObject AddAddressed(string catalog, uint oid, string keyPrefix, ObjectKind kind, string schema, string name, string address)
    {
        var key = $"{keyPrefix}:{oid}";
        var o = Add(key, kind, schema, name, Describe(address));
        if (schema.Length > 0)
        {
            o.AlterTarget = address;
        }
        Read.Addressed[(catalog, oid)] = (key, address);
        return o;
    }

    /// <summary>Leaves the object out, with why.</summary>
    protected void Skip(SchemaObject o, string reason)
    {
        o.SkipReason = reason;
        Read.Skipped.Add(o);
    }

    /// <summary>An OPTIONS list from a catalog's name=value array (fdwoptions, srvoptions, ...), without the names in <paramref name="leftOut"/>; empty when none.</summary>
    protected static string OptionsClause(string[]? options, params string[] leftOut)
    {
        var parts = (options ?? [])
            .Select(o => o.Split('=', 2))
            .Where(kv => !leftOut.Contains(kv[0], StringComparer.Ordinal))
            .Select(kv => $"{Sql.Ident(kv[0])} {Sql.Literal(kv.Length > 1 ? kv[1] : "")}")
            .ToList();
        return parts.Count == 0 ? "" : $" OPTIONS ({string.Join(", ", parts)})";
    }

    /// <summary>For a person: the address with its kind in lower case ("text search configuration s.c").</summary>
    private static string Describe(string address)
    {
        var words = address.Split(' ');
        var kindWords = words.TakeWhile(w => w.Length > 0 && w.All(c => c is >= 'A' and <= 'Z')).Count();
        return string.Join(' ', words.Take(kindWords).Select(w => w.ToLowerInvariant()).Concat(words.Skip(kindWords)));
    }
}
