using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Types: enums, composite types, ranges, domains, base types (over functions the target can create) and shells left undefined.</summary>
internal sealed class TypeReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    /// <summary>
    /// What a type's definition lists: enum labels, a domain's CHECK constraints, a composite type's attributes; and a
    /// domain's NOT VALID checks (name, definition), added after the data.
    /// </summary>
    private sealed record TypeParts(Dictionary<uint, List<string>> EnumLabels, Dictionary<uint, List<string>> DomainChecks,
        Dictionary<uint, List<string>> CompositeAttributes, Dictionary<uint, List<(string Name, string Definition)>> NotValidDomainChecks);

    private async Task<TypeParts> ReadTypePartsAsync(CancellationToken ct)
    {
        var parts = new TypeParts(new(), new(), new(), new());
        await QueryAsync("SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder",
            r => Append(parts.EnumLabels, r.GetFieldValue<uint>(0), r.GetString(1)), ct);
        // A NOT VALID check cannot be part of CREATE DOMAIN, and rows copied may break it: it is added after the data.
        await QueryAsync("SELECT contypid, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint WHERE contypid <> 0 ORDER BY contypid, conname",
            r =>
            {
                if (r.GetBoolean(3))
                {
                    Append(parts.DomainChecks, r.GetFieldValue<uint>(0), $"CONSTRAINT {Sql.Ident(r.GetString(1))} {r.GetString(2)}");
                }
                else
                {
                    Append(parts.NotValidDomainChecks, r.GetFieldValue<uint>(0), (r.GetString(1), r.GetString(2)));
                }
            }, ct);
        await QueryAsync("""
            SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
            WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """, r => Append(parts.CompositeAttributes, r.GetFieldValue<uint>(0),
                $"{Sql.Ident(r.GetString(1))} {r.GetString(2)}" + (r.IsDBNull(3) ? "" : $" COLLATE {r.GetString(3)}")), ct);
        return parts;
    }

    public async Task ReadTypesAsync(CancellationToken ct)
    {
        var (enums, domainChecks, compositeAttrs, notValidChecks) = await ReadTypePartsAsync(ct);
        await QueryAsync($"""
            SELECT t.oid, n.nspname, t.typname, t.typtype::text, t.typrelid,
                   format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
                   CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END,
                   rg.rngsubtype, format_type(rg.rngsubtype, NULL),
                   CASE WHEN rg.rngcollation <> 0 AND rg.rngcollation <> st.typcollation
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = rg.rngcollation) END,
                   CASE WHEN rg.rngsubopc IS NOT NULL AND NOT oc.opcdefault
                        THEN quote_ident(ocn.nspname) || '.' || quote_ident(oc.opcname) END,
                   CASE WHEN rg.rngsubdiff <> 0 THEN rg.rngsubdiff::regproc::text END,
                   (SELECT c.relkind::text FROM pg_class c WHERE c.oid = t.typrelid),
                   CASE WHEN t.typtype = 'b' THEN to_jsonb(t)::text END,
                   CASE WHEN t.typtype = 'b' AND t.typelem <> 0 THEN format_type(t.typelem, NULL) END,
                   CASE WHEN t.typtype = 'b' THEN pg_get_expr(t.typdefaultbin, 0) END,
                   ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend]::oid[],
                   t.typisdefined
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
            LEFT JOIN pg_range rg ON rg.rngtypid = t.oid
            LEFT JOIN pg_type st ON st.oid = rg.rngsubtype
            LEFT JOIN pg_opclass oc ON oc.oid = rg.rngsubopc
            LEFT JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
            WHERE {UserSchemas} AND (t.typtype IN ('e', 'c', 'r', 'd', 'b') OR t.typtype = 'p' AND NOT t.typisdefined)
              AND NOT (t.typelem <> 0 AND t.typlen = -1 AND EXISTS (SELECT 1 FROM pg_type et WHERE et.typarray = t.oid))
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var schema = r.GetString(1);
            var typtype = r.GetString(3)[0];
            var relkind = r.IsDBNull(14) ? null : r.GetString(14);
            if (!Migrates(oid, schema) || typtype == 'c' && relkind != "c")
            {
                return;
            }
            var name = Sql.Qualified(schema, r.GetString(2));
            var key = typtype == 'c' ? $"rel:{r.GetFieldValue<uint>(4)}" : $"type:{oid}";
            var kindWord = typtype == 'd' ? "domain" : "type";
            var o = Add(key, ObjectKind.Type, schema, r.GetString(2), $"{kindWord} {name}");
            o.AlterTarget = $"{(typtype == 'd' ? "DOMAIN" : "TYPE")} {name}";
            switch (typtype)
            {
                case 'e':
                    o.Statements.Add($"CREATE TYPE {name} AS ENUM ({string.Join(", ", (enums.GetValueOrDefault(oid) ?? []).Select(Sql.Literal))})");
                    break;
                case 'c':
                    o.Statements.Add($"CREATE TYPE {name} AS ({string.Join(", ", compositeAttrs.GetValueOrDefault(r.GetFieldValue<uint>(4)) ?? [])})");
                    break;
                case 'r':
                    var parts = new List<string> { $"SUBTYPE = {r.GetString(10)}" };
                    if (!r.IsDBNull(12)) parts.Add($"SUBTYPE_OPCLASS = {r.GetString(12)}");
                    if (!r.IsDBNull(11)) parts.Add($"COLLATION = {r.GetString(11)}");
                    if (!r.IsDBNull(13)) parts.Add($"SUBTYPE_DIFF = {r.GetString(13)}");
                    o.Statements.Add($"CREATE TYPE {name} AS RANGE ({string.Join(", ", parts)})");
                    break;
                case 'd':
                    var sb = new StringBuilder($"CREATE DOMAIN {name} AS {r.GetString(5)}");
                    if (!r.IsDBNull(8)) sb.Append(CultureInfo.InvariantCulture, $" COLLATE {r.GetString(8)}");
                    if (!r.IsDBNull(7)) sb.Append(CultureInfo.InvariantCulture, $" DEFAULT {r.GetString(7)}");
                    if (r.GetBoolean(6)) sb.Append(" NOT NULL");
                    foreach (var check in domainChecks.GetValueOrDefault(oid) ?? [])
                    {
                        sb.Append(' ').Append(check);
                    }
                    o.Statements.Add(sb.ToString());
                    foreach (var (constraint, definition) in notValidChecks.GetValueOrDefault(oid) ?? [])
                    {
                        o.AfterData.Add((PostDataKind.DomainConstraint, constraint, $"ALTER DOMAIN {name} ADD CONSTRAINT {Sql.Ident(constraint)} {definition}"));
                    }
                    break;
                case 'b':
                    AddBaseType(o, name, r.GetString(15), r.IsDBNull(16) ? null : r.GetString(16), r.IsDBNull(17) ? null : r.GetString(17),
                        r.GetFieldValue<uint[]>(18));
                    break;
                default:
                    // A shell left by CREATE TYPE name; with no definition after it (pg_dump keeps it too).
                    o.Statements.Add($"CREATE TYPE {name}");
                    break;
            }
        }, ct);
    }

    /// <summary>
    /// A base type, as pg_dump writes it (dumpBaseType): a shell first (CREATE TYPE name;), which its input, output,
    /// receive and send functions take or return, then the definition, which names those functions. So the functions
    /// depend on the shell and the definition on the functions, and no cycle remains. Whether the type can be created
    /// is whether its functions can: one written in C outside an extension leaves it out, with what depends on it.
    /// </summary>
    private void AddBaseType(SchemaObject type, string name, string catalogRow, string? element, string? defaultExpression, uint[] ioFunctions)
    {
        using var json = JsonDocument.Parse(catalogRow);
        var t = json.RootElement;
        string? Proc(string p) => JsonText(t, p) is { } f && f != "-" ? f : null;
        var parts = new List<string>
        {
            $"INTERNALLENGTH = {(t.GetProperty("typlen").GetInt32() is var len && len == -1 ? "variable" : len.ToString(CultureInfo.InvariantCulture))}",
            $"INPUT = {Proc("typinput")}",
            $"OUTPUT = {Proc("typoutput")}",
        };
        foreach (var (option, column) in new[] { ("RECEIVE", "typreceive"), ("SEND", "typsend"), ("TYPMOD_IN", "typmodin"), ("TYPMOD_OUT", "typmodout"), ("ANALYZE", "typanalyze") })
        {
            if (Proc(column) is { } f) parts.Add($"{option} = {f}");
        }
        if (JsonText(t, "typcollation") is { } collation && collation != "0") parts.Add("COLLATABLE = true");
        if (defaultExpression is not null) parts.Add($"DEFAULT = {defaultExpression}");
        else if (JsonText(t, "typdefault") is { } literal) parts.Add($"DEFAULT = {Sql.Literal(literal)}");
        // SUBSCRIPT is PostgreSQL 14's: before it, an ELEMENT of fixed length gives the same subscripting by itself.
        if (Proc("typsubscript") is { } subscript && Options.TargetMajor >= 14) parts.Add($"SUBSCRIPT = {subscript}");
        if (element is not null) parts.Add($"ELEMENT = {element}");
        if (JsonText(t, "typcategory") is { } category && category != "U") parts.Add($"CATEGORY = {Sql.Literal(category)}");
        if (t.GetProperty("typispreferred").GetBoolean()) parts.Add("PREFERRED = true");
        if (JsonText(t, "typdelim") is { } delimiter && delimiter != ",") parts.Add($"DELIMITER = {Sql.Literal(delimiter)}");
        parts.Add($"ALIGNMENT = {JsonText(t, "typalign") switch { "c" => "char", "s" => "int2", "i" => "int4", _ => "double" }}");
        parts.Add($"STORAGE = {JsonText(t, "typstorage") switch { "p" => "plain", "e" => "external", "m" => "main", _ => "extended" }}");
        if (t.GetProperty("typbyval").GetBoolean()) parts.Add("PASSEDBYVALUE");
        type.Statements.Add($"CREATE TYPE {name} ({string.Join(", ", parts)})");

        var shell = Add($"shell:{type.Key.AsSpan(5)}", ObjectKind.Type, type.Schema, type.Name, $"shell type {name}");
        shell.Statements.Add($"CREATE TYPE {name}");
        type.DependsOn.Add(shell.Key);
        foreach (var f in ioFunctions.Where(f => f != 0))
        {
            Read.ShellOfFunction[$"proc:{f}"] = (type.Key, shell.Key);
        }
    }
}
