using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// Reads the source catalog into the objects to create before the data, in dependency order, and the
/// statements to run after it. The session runs with an empty search_path so that the server's deparse
/// functions (pg_get_viewdef, pg_get_functiondef, pg_get_constraintdef, ...) qualify every name.
/// Objects are generated under their source names; <see cref="SchemaMigrator"/> applies the name mapping
/// by renaming afterwards, so that everything PostgreSQL tracks by oid (views, defaults, constraints) follows.
/// </summary>
public sealed class SourceSchemaReader(NpgsqlConnection conn, SchemaMigrationOptions options)
{
    private const string UserSchemas = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";
    private readonly Dictionary<string, SchemaObject> _objects = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _extensionOfObject = new();
    private SelectedTables _selected = null!;
    private int _serverVersion;

    public List<string> Warnings { get; } = new();
    public List<SchemaObject> Skipped { get; } = new();

    /// <summary>Which relations are selected (read by <see cref="ReadPreDataAsync"/>, in its snapshot).</summary>
    public SelectedTables Selected => _selected;

    public async Task<List<SchemaObject>> ReadPreDataAsync(CancellationToken ct)
    {
        await ExecAsync("SET search_path = ''", ct);
        _serverVersion = conn.PostgreSqlVersion.Major;
        _selected = await SelectedTables.LoadAsync(conn, options.Selection, ct);
        await ReadExtensionsAsync(ct);
        await ReadSchemasAsync(ct);
        await ReadCollationsAsync(ct);
        await ReadTypesAsync(ct);
        await ReadFunctionsAsync(ct);
        await ReadSequencesAsync(ct);
        await ReadTablesAsync(ct);
        await ReadOperatorsAsync(ct);
        await ReadAggregatesAsync(ct);
        await ReadViewsAsync(ct);
        await ReadRulesAsync(ct);
        await ReadCommentsAsync(ct);
        await ReadGrantsAsync(ct);
        await ReadDependenciesAsync(ct);
        DropUnselectedDependents();
        return DependencyOrder.Sort(_objects.Values.Where(o => o.SkipReason is null).ToList());
    }

    private bool SchemaSelected(string schema) => options.Selection.IncludesSchema(schema);

    private SchemaObject Add(string key, ObjectKind kind, string schema, string name, string display)
    {
        var o = new SchemaObject(key, kind, schema, name, display);
        _objects[key] = o;
        return o;
    }

    // ------------------------------------------------------------------ schemas, extensions, collations

    private async Task ReadSchemasAsync(CancellationToken ct)
    {
        await QueryAsync($"SELECT n.oid, n.nspname FROM pg_namespace n WHERE {UserSchemas}", r =>
        {
            var name = r.GetString(1);
            if (SchemaSelected(name))
            {
                var o = Add($"ns:{r.GetFieldValue<uint>(0)}", ObjectKind.Schema, name, name, $"schema {Sql.Ident(name)}");
                o.Statements.Add($"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(name)}");
            }
        }, ct);
    }

    private async Task ReadExtensionsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT e.oid, e.extname, n.nspname
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname <> 'plpgsql'
            """, r =>
        {
            var name = r.GetString(1);
            var schema = r.GetString(2);
            var o = Add($"ext:{r.GetFieldValue<uint>(0)}", ObjectKind.Extension, schema, name, $"extension {name}");
            o.Statements.Add($"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(schema)}");
            o.Statements.Add($"CREATE EXTENSION IF NOT EXISTS {Sql.Ident(name)} WITH SCHEMA {Sql.Ident(schema)}");
        }, ct);
        // Objects that belong to an extension are created by it: map them to the extension.
        await QueryAsync("SELECT objid, refobjid FROM pg_depend WHERE deptype = 'e' AND refclassid = 'pg_extension'::regclass",
            r => _extensionOfObject[r.GetFieldValue<uint>(0)] = $"ext:{r.GetFieldValue<uint>(1)}", ct);
    }

    private async Task ReadCollationsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.collname, to_jsonb(c)::text
            FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (_extensionOfObject.ContainsKey(oid) || !SchemaSelected(r.GetString(1)))
            {
                return;
            }
            using var json = JsonDocument.Parse(r.GetString(3));
            var j = json.RootElement;
            string? Str(string p) => j.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var provider = Str("collprovider") switch { "i" => "icu", "b" => "builtin", _ => "libc" };
            var parts = new List<string> { $"provider = {provider}" };
            var locale = Str("colllocale") ?? Str("colliculocale");
            if (provider == "libc" || locale is null)
            {
                parts.Add($"lc_collate = {Sql.Literal(Str("collcollate") ?? "C")}");
                parts.Add($"lc_ctype = {Sql.Literal(Str("collctype") ?? "C")}");
            }
            else
            {
                parts.Add($"locale = {Sql.Literal(locale)}");
            }
            if (j.TryGetProperty("collisdeterministic", out var det) && det.ValueKind == JsonValueKind.False)
            {
                parts.Add("deterministic = false");
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = Add($"coll:{oid}", ObjectKind.Collation, r.GetString(1), r.GetString(2), $"collation {name}");
            o.Statements.Add($"CREATE COLLATION {name} ({string.Join(", ", parts)})");
            o.AlterTarget = $"COLLATION {name}";
        }, ct);
    }

    // ------------------------------------------------------------------ types

    private async Task ReadTypesAsync(CancellationToken ct)
    {
        var enums = new Dictionary<uint, List<string>>();
        await QueryAsync("SELECT enumtypid, enumlabel FROM pg_enum ORDER BY enumtypid, enumsortorder", r =>
        {
            var t = r.GetFieldValue<uint>(0);
            if (!enums.TryGetValue(t, out var l))
            {
                enums[t] = l = new List<string>();
            }
            l.Add(r.GetString(1));
        }, ct);
        var domainChecks = new Dictionary<uint, List<string>>();
        await QueryAsync("SELECT contypid, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contypid <> 0 ORDER BY contypid, conname", r =>
        {
            var t = r.GetFieldValue<uint>(0);
            if (!domainChecks.TryGetValue(t, out var l))
            {
                domainChecks[t] = l = new List<string>();
            }
            l.Add($"CONSTRAINT {Sql.Ident(r.GetString(1))} {r.GetString(2)}");
        }, ct);
        var compositeAttrs = new Dictionary<uint, List<string>>();
        await QueryAsync("""
            SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
            WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attrelid, a.attnum
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!compositeAttrs.TryGetValue(rel, out var l))
            {
                compositeAttrs[rel] = l = new List<string>();
            }
            l.Add($"{Sql.Ident(r.GetString(1))} {r.GetString(2)}" + (r.IsDBNull(3) ? "" : $" COLLATE {r.GetString(3)}"));
        }, ct);

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
                   (SELECT c.relkind::text FROM pg_class c WHERE c.oid = t.typrelid)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
            LEFT JOIN pg_range rg ON rg.rngtypid = t.oid
            LEFT JOIN pg_type st ON st.oid = rg.rngsubtype
            LEFT JOIN pg_opclass oc ON oc.oid = rg.rngsubopc
            LEFT JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
            WHERE {UserSchemas} AND t.typtype IN ('e', 'c', 'r', 'd', 'b')
              AND NOT (t.typelem <> 0 AND t.typlen = -1 AND EXISTS (SELECT 1 FROM pg_type et WHERE et.typarray = t.oid))
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var schema = r.GetString(1);
            var typtype = r.GetString(3)[0];
            var relkind = r.IsDBNull(14) ? null : r.GetString(14);
            if (_extensionOfObject.ContainsKey(oid) || !SchemaSelected(schema) || typtype == 'c' && relkind != "c")
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
                    break;
                default:
                    o.SkipReason = "a base type needs input/output functions written in C";
                    Skipped.Add(o);
                    break;
            }
        }, ct);
    }

    // ------------------------------------------------------------------ functions, operators, aggregates

    private async Task ReadFunctionsAsync(CancellationToken ct)
    {
        var kind = _serverVersion >= 11 ? "p.prokind::text" : "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END";
        await QueryAsync($"""
            SELECT p.oid, n.nspname, p.proname, {kind}, l.lanname,
                   CASE WHEN l.lanname NOT IN ('c', 'internal') AND {kind} <> 'a' THEN pg_get_functiondef(p.oid) END,
                   p.oid::regprocedure::text
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE {UserSchemas}
              -- Functions that another object creates by itself (a range type's constructors) come with it.
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var schema = r.GetString(1);
            var k = r.GetString(3);
            if (_extensionOfObject.ContainsKey(oid) || !SchemaSelected(schema) || k == "a")
            {
                return;
            }
            var word = k == "p" ? "procedure" : "function";
            var o = Add($"proc:{oid}", ObjectKind.Function, schema, r.GetString(2), $"{word} {r.GetString(6)}");
            var lang = r.GetString(4);
            if (lang is "c" or "internal")
            {
                o.SkipReason = $"written in {(lang == "c" ? "C" : "an internal language")}: its shared library cannot be migrated";
                Skipped.Add(o);
                return;
            }
            o.Statements.Add(r.GetString(5));
            o.AlterTarget = $"{(k == "p" ? "PROCEDURE" : "FUNCTION")} {r.GetString(6)}";
        }, ct);
    }

    private async Task ReadOperatorsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT o.oid, n.nspname, o.oprname, o.oprcode::regproc::text,
                   CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END,
                   CASE WHEN o.oprright <> 0 THEN format_type(o.oprright, NULL) END,
                   CASE WHEN o.oprcom <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom) END,
                   CASE WHEN o.oprnegate <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprnegate) END,
                   CASE WHEN o.oprrest <> 0 THEN o.oprrest::regproc::text END,
                   CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regproc::text END,
                   o.oprcanhash, o.oprcanmerge
            FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (_extensionOfObject.ContainsKey(oid) || !SchemaSelected(r.GetString(1)))
            {
                return;
            }
            var parts = new List<string> { $"FUNCTION = {r.GetString(3)}" };
            if (!r.IsDBNull(4)) parts.Add($"LEFTARG = {r.GetString(4)}");
            if (!r.IsDBNull(5)) parts.Add($"RIGHTARG = {r.GetString(5)}");
            if (!r.IsDBNull(6)) parts.Add($"COMMUTATOR = {r.GetString(6)}");
            if (!r.IsDBNull(7)) parts.Add($"NEGATOR = {r.GetString(7)}");
            if (!r.IsDBNull(8)) parts.Add($"RESTRICT = {r.GetString(8)}");
            if (!r.IsDBNull(9)) parts.Add($"JOIN = {r.GetString(9)}");
            if (r.GetBoolean(10)) parts.Add("HASHES");
            if (r.GetBoolean(11)) parts.Add("MERGES");
            var name = $"{Sql.Ident(r.GetString(1))}.{r.GetString(2)}";
            var o = Add($"op:{oid}", ObjectKind.Operator, r.GetString(1), r.GetString(2), $"operator {name}");
            o.Statements.Add($"CREATE OPERATOR {name} ({string.Join(", ", parts)})");
            o.AlterTarget = $"OPERATOR {name} ({(r.IsDBNull(4) ? "NONE" : r.GetString(4))}, {(r.IsDBNull(5) ? "NONE" : r.GetString(5))})";
        }, ct);
    }

    private async Task ReadAggregatesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT p.oid, n.nspname, p.proname, pg_get_function_arguments(p.oid), to_jsonb(a)::text,
                   format_type(a.aggtranstype, NULL),
                   CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END,
                   CASE WHEN a.aggsortop <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(sn.nspname) || '.' || so.oprname || ')' FROM pg_operator so JOIN pg_namespace sn ON sn.oid = so.oprnamespace WHERE so.oid = a.aggsortop) END,
                   a.aggtransfn::regproc::text, nullif(a.aggfinalfn::regproc::text, '-'), nullif(a.aggcombinefn::regproc::text, '-'),
                   nullif(a.aggserialfn::regproc::text, '-'), nullif(a.aggdeserialfn::regproc::text, '-'),
                   nullif(a.aggmtransfn::regproc::text, '-'), nullif(a.aggminvtransfn::regproc::text, '-'), nullif(a.aggmfinalfn::regproc::text, '-'),
                   p.proparallel::text, p.oid::regprocedure::text
            FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (_extensionOfObject.ContainsKey(oid) || !SchemaSelected(r.GetString(1)))
            {
                return;
            }
            using var json = JsonDocument.Parse(r.GetString(4));
            var j = json.RootElement;
            string? Str(string p) => j.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            bool Bool(string p) => j.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.True;
            var parts = new List<string> { $"SFUNC = {r.GetString(8)}", $"STYPE = {r.GetString(5)}" };
            if (!r.IsDBNull(9)) parts.Add($"FINALFUNC = {r.GetString(9)}");
            if (Bool("aggfinalextra")) parts.Add("FINALFUNC_EXTRA");
            if (!r.IsDBNull(10)) parts.Add($"COMBINEFUNC = {r.GetString(10)}");
            if (!r.IsDBNull(11)) parts.Add($"SERIALFUNC = {r.GetString(11)}");
            if (!r.IsDBNull(12)) parts.Add($"DESERIALFUNC = {r.GetString(12)}");
            if (Str("agginitval") is { } init) parts.Add($"INITCOND = {Sql.Literal(init)}");
            if (!r.IsDBNull(13)) parts.Add($"MSFUNC = {r.GetString(13)}");
            if (!r.IsDBNull(14)) parts.Add($"MINVFUNC = {r.GetString(14)}");
            if (!r.IsDBNull(6) && !r.IsDBNull(13)) parts.Add($"MSTYPE = {r.GetString(6)}");
            if (!r.IsDBNull(15)) parts.Add($"MFINALFUNC = {r.GetString(15)}");
            if (Str("aggminitval") is { } minit) parts.Add($"MINITCOND = {Sql.Literal(minit)}");
            if (!r.IsDBNull(7)) parts.Add($"SORTOP = {r.GetString(7)}");
            var parallel = r.GetString(16) switch { "s" => "SAFE", "r" => "RESTRICTED", _ => null };
            if (parallel is not null) parts.Add($"PARALLEL = {parallel}");
            if (Str("aggkind") == "h") parts.Add("HYPOTHETICAL");
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var args = r.GetString(3);
            var o = Add($"proc:{oid}", ObjectKind.Aggregate, r.GetString(1), r.GetString(2), $"aggregate {r.GetString(17)}");
            o.AlterTarget = $"AGGREGATE {r.GetString(17)}";
            o.Statements.Add($"CREATE AGGREGATE {name} ({(args.Length == 0 ? "*" : args)}) ({string.Join(", ", parts)})");
        }, ct);
    }

    // ------------------------------------------------------------------ sequences and tables

    private readonly Dictionary<uint, string> _identitySequenceOptions = new();

    private async Task ReadSequencesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
                   EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i'),
                   (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' || quote_ident(a.attname)
                      FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' AND d.refclassid = 'pg_class'::regclass),
                   (SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass)
            FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var type = $"AS {r.GetString(3)} ";
            var options = $"INCREMENT BY {r.GetInt64(5)} MINVALUE {r.GetInt64(7)} MAXVALUE {r.GetInt64(6)} START WITH {r.GetInt64(4)} CACHE {r.GetInt64(8)} {(r.GetBoolean(9) ? "CYCLE" : "NO CYCLE")}";
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            if (r.GetBoolean(10))
            {
                // An identity sequence takes the column's type.
                _identitySequenceOptions[oid] = $"SEQUENCE NAME {name} {options}";
                return;
            }
            if (_extensionOfObject.ContainsKey(oid) || !_selected.Contains(oid))
            {
                return;
            }
            // A sequence owned by a table that is not selected is left out with it.
            if (!r.IsDBNull(12) && !_selected.Contains(r.GetFieldValue<uint>(12)))
            {
                return;
            }
            var o = Add($"rel:{oid}", ObjectKind.Sequence, r.GetString(1), r.GetString(2), $"sequence {name}");
            o.Statements.Add($"CREATE SEQUENCE {name} {type}{options}");
            o.AlterTarget = r.IsDBNull(11) ? $"SEQUENCE {name}" : null;
            if (!r.IsDBNull(11))
            {
                o.Finishing.Add($"ALTER SEQUENCE {name} OWNED BY {r.GetString(11)}");
            }
        }, ct);
    }

    private sealed record Column(string Name, string Type, bool NotNull, char Identity, char Generated, string? Default, string? Collation,
        string? Storage, int? StatTarget, bool IsLocal, uint IdentitySequence);

    private async Task ReadTablesAsync(CancellationToken ct)
    {
        var identitySeq = new Dictionary<(uint, int), uint>();
        await QueryAsync("""
            SELECT d.refobjid, d.refobjsubid, d.objid FROM pg_depend d
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i' AND d.refobjsubid > 0
              AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
            """, r => identitySeq[(r.GetFieldValue<uint>(0), r.GetInt32(1))] = r.GetFieldValue<uint>(2), ct);

        var generated = _serverVersion >= 12 ? "a.attgenerated::text" : "''";
        var statTarget = _serverVersion >= 17 ? "a.attstattarget::int" : "nullif(a.attstattarget, -1)::int";
        var columns = new Dictionary<uint, List<Column>>();
        await QueryAsync($"""
            SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity::text, {generated},
                   pg_get_expr(d.adbin, d.adrelid),
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
                   CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
                   {statTarget}, a.attislocal, a.attnum
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {UserSchemas}
            ORDER BY a.attrelid, a.attnum
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!columns.TryGetValue(rel, out var list))
            {
                columns[rel] = list = new List<Column>();
            }
            var ident = r.GetString(4);
            var gen = r.GetString(5);
            list.Add(new Column(r.GetString(1), r.GetString(2), r.GetBoolean(3), ident.Length > 0 ? ident[0] : '\0', gen.Length > 0 ? gen[0] : '\0',
                r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8),
                r.IsDBNull(9) ? null : r.GetInt32(9), r.GetBoolean(10), identitySeq.GetValueOrDefault((rel, (int)r.GetInt16(11)))));
        }, ct);

        var checks = new Dictionary<uint, List<string>>();
        await QueryAsync("""
            SELECT conrelid, conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE contype = 'c' AND conrelid <> 0 AND conislocal ORDER BY conrelid, conname
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!checks.TryGetValue(rel, out var l))
            {
                checks[rel] = l = new List<string>();
            }
            l.Add($"CONSTRAINT {Sql.Ident(r.GetString(1))} {r.GetString(2)}");
        }, ct);

        var parents = new Dictionary<uint, List<uint>>();
        await QueryAsync("SELECT inhrelid, inhparent FROM pg_inherits ORDER BY inhrelid, inhseqno", r =>
        {
            var rel = r.GetFieldValue<uint>(0);
            if (!parents.TryGetValue(rel, out var l))
            {
                parents[rel] = l = new List<uint>();
            }
            l.Add(r.GetFieldValue<uint>(1));
        }, ct);

        var partKey = "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END";
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.reloptions, c.relispartition,
                   pg_get_expr(c.relpartbound, c.oid), {partKey}, c.relreplident::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f') AND {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!_selected.Contains(oid) || _extensionOfObject.ContainsKey(oid))
            {
                return;
            }
            var table = new QualifiedName(r.GetString(1), r.GetString(2));
            var o = Add($"rel:{oid}", ObjectKind.Table, table.Schema, table.Name, $"table {table}");
            o.AlterTarget = $"TABLE {table}";
            if (r.GetString(3) == "f")
            {
                o.SkipReason = "a foreign table needs its foreign server and user mapping, which are not migrated";
                Skipped.Add(o);
                return;
            }
            var cols = (columns.GetValueOrDefault(oid) ?? []).Where(c => !options.ExcludedColumns.Excludes(table, c.Name)).ToList();
            var isPartition = r.GetBoolean(6);
            var parentOids = parents.GetValueOrDefault(oid) ?? [];
            var sb = new StringBuilder("CREATE ");
            if (r.GetString(4) == "u")
            {
                sb.Append("UNLOGGED ");
            }
            sb.Append(CultureInfo.InvariantCulture, $"TABLE {table}");
            var defs = new List<string>();
            var after = new List<string>();
            foreach (var c in cols)
            {
                if (isPartition || !c.IsLocal)
                {
                    // Inherited columns come from the parent; only what differs is set afterwards.
                    if (c.Default is not null && c.Generated == '\0' && c.Identity == '\0')
                    {
                        after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET DEFAULT {c.Default}");
                    }
                    if (c.NotNull && c.Identity == '\0')
                    {
                        after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET NOT NULL");
                    }
                    AddColumnOptions(table, c, after);
                    continue;
                }
                var d = new StringBuilder($"{Sql.Ident(c.Name)} {c.Type}");
                if (c.Collation is not null) d.Append(CultureInfo.InvariantCulture, $" COLLATE {c.Collation}");
                if (c.Generated == 's') d.Append(CultureInfo.InvariantCulture, $" GENERATED ALWAYS AS ({c.Default}) STORED");
                else if (c.Default is not null && c.Identity == '\0') d.Append(CultureInfo.InvariantCulture, $" DEFAULT {c.Default}");
                if (c.Identity is 'a' or 'd')
                {
                    // The change stream writes the source's values into the column: ALWAYS would refuse them (even in
                    // an UPDATE that leaves the value as it is), so the column is BY DEFAULT until the cutover sets it ALWAYS.
                    d.Append(c.Identity == 'a' && !options.StreamFollows ? " GENERATED ALWAYS AS IDENTITY" : " GENERATED BY DEFAULT AS IDENTITY");
                    if (_identitySequenceOptions.TryGetValue(c.IdentitySequence, out var seqOptions))
                    {
                        d.Append(CultureInfo.InvariantCulture, $" ({seqOptions})");
                    }
                }
                if (c.NotNull) d.Append(" NOT NULL");
                defs.Add(d.ToString());
                AddColumnOptions(table, c, after);
            }
            defs.AddRange(checks.GetValueOrDefault(oid) ?? []);
            if (isPartition)
            {
                sb.Append(CultureInfo.InvariantCulture, $" PARTITION OF {_selected.AllRelations[parentOids[0]].Name}");
                if (defs.Count > 0) sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
                sb.Append(' ').Append(r.GetString(7));
            }
            else
            {
                sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
                if (parentOids.Count > 0)
                {
                    sb.Append(" INHERITS (").Append(string.Join(", ", parentOids.Select(p => _selected.AllRelations[p].Name))).Append(')');
                }
            }
            if (!r.IsDBNull(8)) sb.Append(" PARTITION BY ").Append(r.GetString(8));
            if (!r.IsDBNull(5)) sb.Append(" WITH (").Append(string.Join(", ", r.GetFieldValue<string[]>(5))).Append(')');
            o.Statements.Add(sb.ToString());
            o.Statements.AddRange(after);
            switch (r.GetString(9))
            {
                case "f": o.Statements.Add($"ALTER TABLE ONLY {table} REPLICA IDENTITY FULL"); break;
                case "n": o.Statements.Add($"ALTER TABLE ONLY {table} REPLICA IDENTITY NOTHING"); break;
            }
            foreach (var p in parentOids)
            {
                o.DependsOn.Add($"rel:{p}");
            }
        }, ct);
    }

    private static void AddColumnOptions(QualifiedName table, Column c, List<string> after)
    {
        if (c.Storage is { } storage)
        {
            var word = storage switch { "p" => "PLAIN", "e" => "EXTERNAL", "m" => "MAIN", _ => "EXTENDED" };
            after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET STORAGE {word}");
        }
        if (c.StatTarget is { } st and >= 0)
        {
            after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET STATISTICS {st}");
        }
    }

    // ------------------------------------------------------------------ views, rules

    private async Task ReadViewsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reloptions, pg_get_viewdef(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!_selected.Contains(oid) || _extensionOfObject.ContainsKey(oid))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var materialized = r.GetString(3) == "m";
            var o = Add($"rel:{oid}", materialized ? ObjectKind.MaterializedView : ObjectKind.View, r.GetString(1), r.GetString(2),
                $"{(materialized ? "materialized view" : "view")} {name}");
            var body = r.GetString(5).Trim().TrimEnd(';');
            o.AlterTarget = $"{(materialized ? "MATERIALIZED VIEW" : "VIEW")} {name}";
            var with = r.IsDBNull(4) ? "" : $" WITH ({string.Join(", ", r.GetFieldValue<string[]>(4))})";
            o.Statements.Add(materialized
                ? $"CREATE MATERIALIZED VIEW {name}{with} AS {body} WITH NO DATA"
                : $"CREATE VIEW {name}{with} AS {body}");
        }, ct);
    }

    private async Task ReadRulesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT r.oid, n.nspname, c.relname, r.rulename, pg_get_ruledef(r.oid), r.ev_class, r.ev_enabled::text
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE r.rulename <> '_RETURN' AND {UserSchemas}
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(5);
            if (!_selected.Contains(rel))
            {
                return;
            }
            var table = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = Add($"rule:{r.GetFieldValue<uint>(0)}", ObjectKind.Rule, r.GetString(1), r.GetString(3), $"rule {Sql.Ident(r.GetString(3))} on {table}");
            o.Statements.Add(r.GetString(4).Trim().TrimEnd(';'));
            // While a change stream follows, a rule must not fire for the applied changes: one set ALWAYS or REPLICA
            // fires for the replica apply session, and any enabled one when the session cannot be a replica. It stays
            // ENABLE (origin) or DISABLE until the post-data phase at the cutover sets the source's state.
            var state = r.GetString(6);
            var created = !options.StreamFollows ? state
                : options.DeferForeignKeysAndTriggers || state == "D" ? "D"
                : "O";
            if (created != "O")
            {
                o.Statements.Add($"ALTER TABLE {table} {PostDataReader.EnableState(created)} RULE {Sql.Ident(r.GetString(3))}");
            }
            o.DependsOn.Add($"rel:{rel}");
        }, ct);
    }

    // ------------------------------------------------------------------ comments, grants

    private async Task ReadCommentsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT d.classoid::regclass::text, d.objoid, d.objsubid, d.description,
                   CASE WHEN d.classoid = 'pg_class'::regclass THEN (SELECT relkind::text FROM pg_class WHERE oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_class'::regclass AND d.objsubid > 0
                        THEN (SELECT attname FROM pg_attribute WHERE attrelid = d.objoid AND attnum = d.objsubid) END,
                   CASE WHEN d.classoid = 'pg_proc'::regclass THEN (SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_type'::regclass THEN (SELECT t.typrelid FROM pg_type t WHERE t.oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_constraint'::regclass THEN (SELECT c.conname::text FROM pg_constraint c WHERE c.oid = d.objoid AND c.contype = 'c') END,
                   CASE WHEN d.classoid = 'pg_constraint'::regclass THEN (SELECT CASE WHEN c.contypid <> 0 THEN 'type:' || c.contypid ELSE 'rel:' || c.conrelid END FROM pg_constraint c WHERE c.oid = d.objoid) END
            FROM pg_description d
            WHERE d.classoid IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass, 'pg_constraint'::regclass)
            """, r =>
        {
            var catalog = r.GetString(0);
            var oid = r.GetFieldValue<uint>(1);
            var text = Sql.Literal(r.GetString(3));
            switch (catalog)
            {
                case "pg_namespace" when _objects.TryGetValue($"ns:{oid}", out var ns):
                    ns.Finishing.Add($"COMMENT ON SCHEMA {Sql.Ident(ns.Name)} IS {text}");
                    break;
                case "pg_class" when _objects.TryGetValue($"rel:{oid}", out var rel):
                    var name = Sql.Qualified(rel.Schema, rel.Name);
                    if (r.GetInt32(2) > 0)
                    {
                        if (!r.IsDBNull(5) && !options.ExcludedColumns.Excludes(new QualifiedName(rel.Schema, rel.Name), r.GetString(5)))
                        {
                            rel.Finishing.Add($"COMMENT ON COLUMN {name}.{Sql.Ident(r.GetString(5))} IS {text}");
                        }
                    }
                    else
                    {
                        var word = rel.Kind switch
                        {
                            ObjectKind.View => "VIEW",
                            ObjectKind.MaterializedView => "MATERIALIZED VIEW",
                            ObjectKind.Sequence => "SEQUENCE",
                            ObjectKind.Type => "TYPE",
                            _ => "TABLE",
                        };
                        rel.Finishing.Add($"COMMENT ON {word} {name} IS {text}");
                    }
                    break;
                case "pg_type" when !r.IsDBNull(7) && r.GetFieldValue<uint>(7) != 0 && _objects.TryGetValue($"rel:{r.GetFieldValue<uint>(7)}", out var composite):
                    composite.Finishing.Add($"COMMENT ON TYPE {Sql.Qualified(composite.Schema, composite.Name)} IS {text}");
                    break;
                case "pg_constraint" when !r.IsDBNull(8) && _objects.TryGetValue(r.GetString(9), out var owner):
                    // CHECK constraints are created with their table or domain; keys and foreign keys get theirs after the data.
                    var on = owner.Kind == ObjectKind.Type ? $"DOMAIN {Sql.Qualified(owner.Schema, owner.Name)}" : Sql.Qualified(owner.Schema, owner.Name);
                    owner.Finishing.Add($"COMMENT ON CONSTRAINT {Sql.Ident(r.GetString(8))} ON {on} IS {text}");
                    break;
                case "pg_type" when _objects.TryGetValue($"type:{oid}", out var type):
                    type.Finishing.Add($"COMMENT ON {(type.Display.StartsWith("domain", StringComparison.Ordinal) ? "DOMAIN" : "TYPE")} {Sql.Qualified(type.Schema, type.Name)} IS {text}");
                    break;
                case "pg_proc" when _objects.TryGetValue($"proc:{oid}", out var proc) && !r.IsDBNull(6):
                    var kindWord = proc.Kind == ObjectKind.Aggregate ? "AGGREGATE" : proc.Display.StartsWith("procedure", StringComparison.Ordinal) ? "PROCEDURE" : "FUNCTION";
                    proc.Finishing.Add($"COMMENT ON {kindWord} {r.GetString(6)} IS {text}");
                    break;
            }
        }, ct);
    }

    /// <summary>Grantee role names (other than the owner), per object, to grant on the target when the roles exist there.</summary>
    public List<(SchemaObject Object, string Grantee, string Sql)> Grants { get; } = new();

    private async Task ReadGrantsAsync(CancellationToken ct)
    {
        // Every entry of every non-default ACL, the owner's included (to see that the ACL was changed at all);
        // the public schema's ACL is left to the target, whose defaults differ between majors.
        var procKind = _serverVersion >= 11 ? "CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END" : "'FUNCTION'";
        await QueryAsync($"""
            SELECT 'rel:' || c.oid, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = c.relowner, NULL::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
            LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE c.relacl IS NOT NULL AND {UserSchemas}
            UNION ALL
            SELECT 'rel:' || c.oid, 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, false, att.attname::text
            FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(att.attacl) a
            LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND {UserSchemas}
            UNION ALL
            SELECT 'ns:' || n.oid, 'SCHEMA', quote_ident(n.nspname), coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = n.nspowner, NULL
            FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE n.nspacl IS NOT NULL AND n.nspname <> 'public' AND {UserSchemas}
            UNION ALL
            SELECT 'proc:' || p.oid, {procKind}, p.oid::regprocedure::text,
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = p.proowner, NULL
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE p.proacl IS NOT NULL AND {UserSchemas}
            UNION ALL
            SELECT CASE WHEN t.typrelid <> 0 THEN 'rel:' || t.typrelid ELSE 'type:' || t.oid END, CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                   quote_ident(n.nspname) || '.' || quote_ident(t.typname),
                   coalesce(g.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable, a.grantee = t.typowner, NULL
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, aclexplode(t.typacl) a LEFT JOIN pg_roles g ON g.oid = a.grantee
            WHERE t.typacl IS NOT NULL AND {UserSchemas}
            """, r =>
        {
            if (!_objects.TryGetValue(r.GetString(0), out var o))
            {
                return;
            }
            var kind = r.GetString(1);
            var name = r.GetString(2);
            var column = r.IsDBNull(7) ? null : r.GetString(7);
            if (column is not null && options.ExcludedColumns.Excludes(new QualifiedName(o.Schema, o.Name), column))
            {
                return;
            }
            // Functions and types grant USAGE/EXECUTE to PUBLIC by default: a changed ACL starts from none, as on the source.
            if (kind is "FUNCTION" or "PROCEDURE" or "TYPE" or "DOMAIN" && _revokedFromPublic.Add(o.Key))
            {
                Grants.Add((o, "PUBLIC", $"REVOKE ALL ON {kind} {name} FROM PUBLIC"));
            }
            if (r.GetBoolean(6))
            {
                return;
            }
            var grantee = r.GetString(3);
            var to = grantee == "PUBLIC" ? "PUBLIC" : Sql.Ident(grantee);
            var what = column is null ? r.GetString(4) : $"{r.GetString(4)} ({Sql.Ident(column)})";
            Grants.Add((o, grantee, $"GRANT {what} ON {kind} {name} TO {to}{(r.GetBoolean(5) ? " WITH GRANT OPTION" : "")}"));
        }, ct);
    }

    private readonly HashSet<string> _revokedFromPublic = new(StringComparer.Ordinal);

    // ------------------------------------------------------------------ dependencies

    private async Task ReadDependenciesAsync(CancellationToken ct)
    {
        // Map every catalog object to the unit that creates it, then turn pg_depend rows into edges.
        var owner = new Dictionary<(string, uint), string>();
        await QueryAsync("""
            SELECT 'pg_type', t.oid,
                   CASE WHEN t.typrelid <> 0 THEN 'rel:' || t.typrelid
                        WHEN t.typelem <> 0 AND EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid) THEN
                             (SELECT CASE WHEN e.typrelid <> 0 THEN 'rel:' || e.typrelid ELSE 'type:' || e.oid END FROM pg_type e WHERE e.typarray = t.oid)
                        ELSE 'type:' || t.oid END
            FROM pg_type t WHERE t.oid >= 16384
            UNION ALL SELECT 'pg_attrdef', d.oid, 'rel:' || d.adrelid FROM pg_attrdef d
            UNION ALL SELECT 'pg_constraint', c.oid, CASE WHEN c.contypid <> 0 THEN 'type:' || c.contypid WHEN c.contype = 'c' THEN 'rel:' || c.conrelid END
                      FROM pg_constraint c WHERE c.contypid <> 0 OR c.contype = 'c'
            UNION ALL SELECT 'pg_rewrite', r.oid, CASE WHEN r.rulename = '_RETURN' THEN 'rel:' || r.ev_class ELSE 'rule:' || r.oid END FROM pg_rewrite r WHERE r.oid >= 16384
            """, r =>
        {
            if (!r.IsDBNull(2))
            {
                owner[(r.GetString(0), r.GetFieldValue<uint>(1))] = r.GetString(2);
            }
        }, ct);

        string? UnitOf(string catalog, uint oid)
        {
            if (_extensionOfObject.TryGetValue(oid, out var ext))
            {
                return ext;
            }
            return catalog switch
            {
                "pg_class" => $"rel:{oid}",
                "pg_proc" => $"proc:{oid}",
                "pg_namespace" => $"ns:{oid}",
                "pg_extension" => $"ext:{oid}",
                "pg_collation" => $"coll:{oid}",
                "pg_operator" => $"op:{oid}",
                _ => owner.GetValueOrDefault((catalog, oid)),
            };
        }

        var seqOwnedBy = new HashSet<(uint, uint)>();
        await QueryAsync("""
            SELECT d.classid::regclass::text, d.objid, d.refclassid::regclass::text, d.refobjid, d.deptype::text,
                   d.classid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
            FROM pg_depend d
            WHERE d.objid >= 16384 AND d.deptype IN ('n', 'a', 'i')
            """, r =>
        {
            var from = UnitOf(r.GetString(0), r.GetFieldValue<uint>(1));
            var to = UnitOf(r.GetString(2), r.GetFieldValue<uint>(3));
            // A sequence OWNED BY a column: set after the tables (ALTER SEQUENCE ... OWNED BY), not a creation order.
            if (from is null || to is null || from == to || r.GetBoolean(5) && r.GetString(4) == "a")
            {
                return;
            }
            if (_objects.TryGetValue(from, out var o))
            {
                o.DependsOn.Add(to);
            }
        }, ct);
        foreach (var o in _objects.Values.Where(o => o.Kind != ObjectKind.Schema && o.Kind != ObjectKind.Extension))
        {
            var ns = _objects.Values.FirstOrDefault(s => s.Kind == ObjectKind.Schema && s.Name == o.Schema);
            if (ns is not null)
            {
                o.DependsOn.Add(ns.Key);
            }
        }
    }

    /// <summary>
    /// An object that depends on something in a user schema that is not selected (or not migrated) cannot be
    /// created: report it, before anything is created, and leave it out.
    /// </summary>
    private void DropUnselectedDependents()
    {
        var knownUserObjects = new HashSet<string>(_selected.AllRelations.Keys.Select(k => $"rel:{k}"), StringComparer.Ordinal);
        bool changed;
        do
        {
            changed = false;
            foreach (var o in _objects.Values.Where(o => o.SkipReason is null))
            {
                var missing = o.DependsOn.FirstOrDefault(d =>
                    (_objects.TryGetValue(d, out var dep) && dep.SkipReason is not null) || (!_objects.ContainsKey(d) && knownUserObjects.Contains(d)));
                if (missing is not null)
                {
                    var what = _objects.TryGetValue(missing, out var dep) ? $"{dep.Display}, which is not migrated" : $"{Describe(missing)}, which is not selected";
                    o.SkipReason = $"depends on {what}";
                    Skipped.Add(o);
                    Warnings.Add($"{o.Display} is left out: it depends on {what}.");
                    changed = true;
                }
            }
        }
        while (changed);
    }

    private string Describe(string key)
        => key.StartsWith("rel:", StringComparison.Ordinal) && uint.TryParse(key.AsSpan(4), out var oid) && _selected.AllRelations.TryGetValue(oid, out var r)
            ? $"relation {r.Name}"
            : key;

    // ------------------------------------------------------------------ plumbing

    private async Task ExecAsync(string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private Task QueryAsync(string sql, Action<NpgsqlDataReader> row, CancellationToken ct) => conn.ForEachRowAsync(sql, row, ct);
}
