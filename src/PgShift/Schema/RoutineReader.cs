using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Functions and procedures, operators, aggregates.</summary>
internal sealed class RoutineReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadFunctionsAsync(CancellationToken ct)
    {
        var sourceSettings = new HashSet<string>(StringComparer.Ordinal);
        await QueryAsync("SELECT name FROM pg_settings", r => sourceSettings.Add(r.GetString(0)), ct);
        var kind = SourceMajor >= 11 ? "p.prokind::text" : "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END";
        await QueryAsync($"""
            SELECT p.oid, n.nspname, p.proname, {kind}, l.lanname,
                   CASE WHEN l.lanname <> 'c' AND {kind} <> 'a' THEN pg_get_functiondef(p.oid) END,
                   p.oid::regprocedure::text, p.prosrc, (SELECT array_agg(split_part(c, '=', 1)) FROM unnest(p.proconfig) c)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE {UserSchemas}
              -- Functions that another object creates by itself (a range type's constructors) come with it.
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var schema = r.GetString(1);
            var k = r.GetString(3);
            if (!Migrates(oid, schema) || k == "a")
            {
                return;
            }
            var word = k == "p" ? "procedure" : "function";
            var o = Add($"proc:{oid}", ObjectKind.Function, schema, r.GetString(2), $"{word} {r.GetString(6)}");
            if (WhyNotCreatable(r.GetString(4), r.IsDBNull(7) ? "" : r.GetString(7)) is { } reason)
            {
                o.SkipReason = reason;
                Read.Skipped.Add(o);
                return;
            }
            // A parameter the source has and the target's major removed (or renamed) cannot be SET there; a custom one
            // (with a dot) can be anywhere.
            var removed = (r.IsDBNull(8) || Options.TargetSettings is not { } targetSettings ? [] : r.GetFieldValue<string[]>(8)
                .Where(p => !p.Contains('.', StringComparison.Ordinal) && sourceSettings.Contains(p) && !targetSettings.Contains(p))).ToList();
            o.Statements.Add(WithoutSettings(r.GetString(5), removed));
            if (removed.Count > 0)
            {
                Read.Warnings.Add($"{o.Display} is created without its SET {string.Join(", SET ", removed)}: PostgreSQL {TargetMajor} (the target) has no such parameter.");
            }
            o.AlterTarget = $"{(k == "p" ? "PROCEDURE" : "FUNCTION")} {r.GetString(6)}";
        }, ct);
    }

    /// <summary>
    /// Why a function in <paramref name="language"/> cannot be created on the target, or null. A function in LANGUAGE
    /// internal names a built-in of the server (<paramref name="symbol"/>): the target may have it, but only a superuser
    /// may create such a function.
    /// </summary>
    private string? WhyNotCreatable(string language, string symbol) => language switch
    {
        "c" => "written in C: its shared library cannot be migrated",
        "internal" when !Options.TargetInternalFunctions.Contains(symbol)
            => $"written in LANGUAGE internal as {symbol}, a built-in function the target server does not have",
        "internal" when !Options.TargetIsSuperuser
            => "written in LANGUAGE internal: only a superuser can create it, and the target's role is not one",
        _ => null,
    };

    /// <summary>
    /// A definition from pg_get_functiondef without the SET lines of these parameters. It prints one line
    /// " SET name TO value" per parameter, among the header lines that start with a space, before the body.
    /// </summary>
    internal static string WithoutSettings(string definition, IReadOnlyCollection<string> parameters)
    {
        if (parameters.Count == 0)
        {
            return definition;
        }
        var lines = definition.Split('\n').ToList();
        for (var i = 1; i < lines.Count && lines[i].StartsWith(' '); i++)
        {
            if (parameters.Any(p => lines[i].StartsWith($" SET {p} TO ", StringComparison.Ordinal)))
            {
                lines.RemoveAt(i--);
            }
        }
        return string.Join('\n', lines);
    }

    public async Task ReadOperatorsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT o.oid, n.nspname, o.oprname, o.oprcode::regproc::text,
                   CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END,
                   CASE WHEN o.oprright <> 0 THEN format_type(o.oprright, NULL) END,
                   CASE WHEN o.oprcom <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom) END,
                   CASE WHEN o.oprnegate <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_operator c JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprnegate) END,
                   CASE WHEN o.oprrest <> 0 THEN o.oprrest::regproc::text END,
                   CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regproc::text END,
                   o.oprcanhash, o.oprcanmerge, {OperatorUsesChangedPolymorphics}
            FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
            -- A shell operator (no function yet) is only a name another operator's COMMUTATOR or NEGATOR gave: creating
            -- that operator makes the shell again, as pg_dump leaves it to do.
            WHERE {UserSchemas} AND o.oprcode <> 0
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            string? Arg(int i) => r.IsDBNull(i) ? null : r.GetBoolean(12) ? ToAnyCompatible(r.GetString(i)) : r.GetString(i);
            var (left, right) = (Arg(4), Arg(5));
            var parts = new List<string> { $"FUNCTION = {r.GetString(3)}" };
            if (left is not null) parts.Add($"LEFTARG = {left}");
            if (right is not null) parts.Add($"RIGHTARG = {right}");
            if (!r.IsDBNull(6)) parts.Add($"COMMUTATOR = {r.GetString(6)}");
            if (!r.IsDBNull(7)) parts.Add($"NEGATOR = {r.GetString(7)}");
            if (!r.IsDBNull(8)) parts.Add($"RESTRICT = {r.GetString(8)}");
            if (!r.IsDBNull(9)) parts.Add($"JOIN = {r.GetString(9)}");
            if (r.GetBoolean(10)) parts.Add("HASHES");
            if (r.GetBoolean(11)) parts.Add("MERGES");
            var name = $"{Sql.Ident(r.GetString(1))}.{r.GetString(2)}";
            var o = Add($"op:{oid}", ObjectKind.Operator, r.GetString(1), r.GetString(2), $"operator {name}");
            o.AlterTarget = $"OPERATOR {name} ({left ?? "NONE"}, {right ?? "NONE"})";
            if (right is null && TargetMajor >= 14)
            {
                o.SkipReason = $"a postfix operator (no right operand): PostgreSQL 14 removed them, and the target runs {TargetMajor}; "
                    + "call its function instead, or make it a prefix operator, on the source";
                Read.Skipped.Add(o);
                return;
            }
            o.Statements.Add($"CREATE OPERATOR {name} ({string.Join(", ", parts)})");
        }, ct);
    }

    /// <summary>
    /// The built-in array functions whose arguments PostgreSQL 14 changed from anyarray/anyelement to
    /// anycompatiblearray/anycompatible, the ones pg_upgrade checks for.
    /// </summary>
    private const string ChangedPolymorphics = """
        ARRAY['array_append(anyarray,anyelement)', 'array_cat(anyarray,anyarray)', 'array_prepend(anyelement,anyarray)',
              'array_remove(anyarray,anyelement)', 'array_replace(anyarray,anyelement,anyelement)', 'array_position(anyarray,anyelement)',
              'array_position(anyarray,anyelement,integer)', 'array_positions(anyarray,anyelement)', 'width_bucket(anyelement,anyarray)']::regprocedure[]
        """;

    /// <summary>
    /// Whether an aggregate of an older source is built on one of <see cref="ChangedPolymorphics"/> with a polymorphic
    /// state: on a 14+ target it exists only with anycompatible types (CREATE AGGREGATE fails with anyarray/anyelement).
    /// </summary>
    private string UsesChangedPolymorphics => SourceMajor < 14 && TargetMajor >= 14
        ? $"(a.aggtransfn = ANY({ChangedPolymorphics}) OR a.aggfinalfn = ANY({ChangedPolymorphics})) AND a.aggtranstype = ANY(ARRAY['anyarray', 'anyelement']::regtype[])"
        : "false";

    /// <summary>The same for an operator (on anyarray or anyelement) whose function is one of them: its operand types change too.</summary>
    private string OperatorUsesChangedPolymorphics => SourceMajor < 14 && TargetMajor >= 14
        ? $"o.oprcode::regprocedure = ANY({ChangedPolymorphics}) AND o.oprleft = ANY(ARRAY['anyarray', 'anyelement']::regtype[])"
        : "false";

    /// <summary>anyelement and anyarray in a type list or signature, as anycompatible and anycompatiblearray.</summary>
    internal static string ToAnyCompatible(string types)
        => Regex.Replace(Regex.Replace(types, @"\banyelement\b", "anycompatible"), @"\banyarray\b", "anycompatiblearray");

    public async Task ReadAggregatesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT p.oid, n.nspname, p.proname, pg_get_function_arguments(p.oid), to_jsonb(a)::text,
                   format_type(a.aggtranstype, NULL),
                   CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END,
                   CASE WHEN a.aggsortop <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(sn.nspname) || '.' || so.oprname || ')' FROM pg_operator so JOIN pg_namespace sn ON sn.oid = so.oprnamespace WHERE so.oid = a.aggsortop) END,
                   a.aggtransfn::regproc::text, nullif(a.aggfinalfn::regproc::text, '-'), nullif(a.aggcombinefn::regproc::text, '-'),
                   nullif(a.aggserialfn::regproc::text, '-'), nullif(a.aggdeserialfn::regproc::text, '-'),
                   nullif(a.aggmtransfn::regproc::text, '-'), nullif(a.aggminvtransfn::regproc::text, '-'), nullif(a.aggmfinalfn::regproc::text, '-'),
                   p.proparallel::text, p.oid::regprocedure::text, {UsesChangedPolymorphics}
            FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            using var json = JsonDocument.Parse(r.GetString(4));
            var j = json.RootElement;
            string? Str(string p) => JsonText(j, p);
            bool Bool(string p) => j.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.True;
            var compatible = r.GetBoolean(18);
            string Types(string text) => compatible ? ToAnyCompatible(text) : text;
            var parts = new List<string> { $"SFUNC = {r.GetString(8)}", $"STYPE = {Types(r.GetString(5))}" };
            if (!r.IsDBNull(9)) parts.Add($"FINALFUNC = {r.GetString(9)}");
            if (Bool("aggfinalextra")) parts.Add("FINALFUNC_EXTRA");
            if (!r.IsDBNull(10)) parts.Add($"COMBINEFUNC = {r.GetString(10)}");
            if (!r.IsDBNull(11)) parts.Add($"SERIALFUNC = {r.GetString(11)}");
            if (!r.IsDBNull(12)) parts.Add($"DESERIALFUNC = {r.GetString(12)}");
            if (Str("agginitval") is { } init) parts.Add($"INITCOND = {Sql.Literal(init)}");
            if (!r.IsDBNull(13)) parts.Add($"MSFUNC = {r.GetString(13)}");
            if (!r.IsDBNull(14)) parts.Add($"MINVFUNC = {r.GetString(14)}");
            if (!r.IsDBNull(6) && !r.IsDBNull(13)) parts.Add($"MSTYPE = {Types(r.GetString(6))}");
            if (!r.IsDBNull(15)) parts.Add($"MFINALFUNC = {r.GetString(15)}");
            if (Bool("aggmfinalextra")) parts.Add("MFINALFUNC_EXTRA");
            if (Str("aggminitval") is { } minit) parts.Add($"MINITCOND = {Sql.Literal(minit)}");
            if (!r.IsDBNull(7)) parts.Add($"SORTOP = {r.GetString(7)}");
            var parallel = r.GetString(16) switch { "s" => "SAFE", "r" => "RESTRICTED", _ => null };
            if (parallel is not null) parts.Add($"PARALLEL = {parallel}");
            if (Str("aggkind") == "h") parts.Add("HYPOTHETICAL");
            AddSpaceAndModify(j, Str("aggkind") == "n" ? "r" : "w", parts);
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var args = Types(r.GetString(3));
            // An aggregate of no arguments is named name(*) in ALTER and COMMENT, where regprocedure prints name().
            var signature = args.Length == 0 ? $"{name}(*)" : Types(r.GetString(17));
            if (compatible)
            {
                Read.Warnings.Add($"aggregate {r.GetString(17)} is built on {r.GetString(8)}, whose anyarray/anyelement arguments PostgreSQL 14 made "
                    + $"anycompatiblearray/anycompatible: it is created as {signature} on the target, as it must be there.");
            }
            var o = Add($"proc:{oid}", ObjectKind.Aggregate, r.GetString(1), r.GetString(2), $"aggregate {signature}");
            o.AlterTarget = $"AGGREGATE {signature}";
            o.Statements.Add($"CREATE AGGREGATE {name} ({(args.Length == 0 ? "*" : args)}) ({string.Join(", ", parts)})");
        }, ct);
    }

    /// <summary>
    /// SSPACE / MSSPACE (the planner's estimate of the state's size) and FINALFUNC_MODIFY / MFINALFUNC_MODIFY (11+), when
    /// not the default (READ_ONLY for a normal aggregate, READ_WRITE for an ordered-set one), as pg_dump writes them.
    /// </summary>
    private static void AddSpaceAndModify(JsonElement j, string defaultModify, List<string> parts)
    {
        static string Modify(string code) => code switch { "s" => "SHAREABLE", "w" => "READ_WRITE", _ => "READ_ONLY" };
        if (j.TryGetProperty("aggtransspace", out var space) && space.ValueKind == JsonValueKind.Number && space.GetInt32() != 0)
        {
            parts.Add($"SSPACE = {space.GetInt32()}");
        }
        if (j.TryGetProperty("aggmtransspace", out var mspace) && mspace.ValueKind == JsonValueKind.Number && mspace.GetInt32() != 0)
        {
            parts.Add($"MSSPACE = {mspace.GetInt32()}");
        }
        if (JsonText(j, "aggfinalmodify") is { } modify && modify != defaultModify)
        {
            parts.Add($"FINALFUNC_MODIFY = {Modify(modify)}");
        }
        if (parts.Any(p => p.StartsWith("MSFUNC", StringComparison.Ordinal)) && JsonText(j, "aggmfinalmodify") is { } mmodify && mmodify != defaultModify)
        {
            parts.Add($"MFINALFUNC_MODIFY = {Modify(mmodify)}");
        }
    }
}
