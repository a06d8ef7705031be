using Npgsql;

namespace PgShift.Schema;

/// <summary>The order of creation: pg_depend turned into edges between the objects read, and the objects left out because they depend on something not migrated.</summary>
internal sealed class DependencyReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadDependenciesAsync(CancellationToken ct)
    {
        // Map every catalog object to the unit that creates it, then turn pg_depend rows into edges.
        var owner = await ReadOwningUnitsAsync(ct);

        // What an extension owns is the extension's, whichever catalog row pg_depend names: the object itself, or
        // the type or relation that stands for it (an array of its type, its composite type's relation).
        string? UnitOf(string catalog, uint oid)
        {
            var unit = OwnUnitOf(catalog, oid);
            return unit is not null && uint.TryParse(unit.AsSpan(unit.IndexOf(':') + 1), out var unitOid)
                && Read.ExtensionOfObject.TryGetValue(unitOid, out var ext) ? ext : unit;
        }

        string? OwnUnitOf(string catalog, uint oid)
        {
            if (Read.ExtensionOfObject.TryGetValue(oid, out var ext))
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
                "pg_cast" => $"cast:{oid}",
                "pg_opfamily" => $"opf:{oid}",
                "pg_opclass" => $"opc:{oid}",
                _ => owner.GetValueOrDefault((catalog, oid)) ?? (Read.Addressed.TryGetValue((catalog, oid), out var a) ? a.Key : null),
            };
        }

        // Columns 6 and 7: the schema and description of a referenced type, function, operator or collation, to tell
        // one of a schema that is not selected (relations are told by the selection itself).
        await QueryAsync("""
            SELECT d.classid::regclass::text, d.objid, d.refclassid::regclass::text, d.refobjid, d.deptype::text,
                   d.classid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S',
                   ref.schema, ref.description
            FROM pg_depend d
            LEFT JOIN LATERAL (SELECT (pg_identify_object(d.refclassid, d.refobjid, 0)).schema, pg_describe_object(d.refclassid, d.refobjid, 0) AS description
                                WHERE d.refobjid >= 16384
                                  AND d.refclassid IN ('pg_type'::regclass, 'pg_proc'::regclass, 'pg_operator'::regclass, 'pg_collation'::regclass)) ref ON true
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
            if (!r.IsDBNull(6) && !Objects.ContainsKey(to) && !to.StartsWith("rel:", StringComparison.Ordinal)
                && IsUserSchema(r.GetString(6)) && !SchemaSelected(r.GetString(6)))
            {
                Read.NotOnTarget[to] = $"{r.GetString(7)}, whose schema is not selected";
            }
            if (Objects.TryGetValue(from, out var o))
            {
                o.DependsOn.Add(to);
            }
        }, ct);
        // A base type's I/O functions take or return the type: they are created on its shell, which breaks the cycle.
        foreach (var (function, (type, shell)) in Read.ShellOfFunction)
        {
            if (Objects.TryGetValue(function, out var f) && f.DependsOn.Remove(type))
            {
                f.DependsOn.Add(shell);
            }
        }
        await ReadUsesOfRemovedOperatorsAsync(owner, ct);
        foreach (var o in Objects.Values.Where(o => o.Kind != ObjectKind.Schema && o.Kind != ObjectKind.Extension))
        {
            var ns = Objects.Values.FirstOrDefault(s => s.Kind == ObjectKind.Schema && s.Name == o.Schema);
            if (ns is not null)
            {
                o.DependsOn.Add(ns.Key);
            }
        }
    }

    private static bool IsUserSchema(string schema)
        => schema is not ("pg_catalog" or "information_schema") && !schema.StartsWith("pg_", StringComparison.Ordinal);

    /// <summary>Each catalog row that is part of another unit (a column default of its table, an array type of its element type), mapped to that unit's key.</summary>
    private async Task<Dictionary<(string, uint), string>> ReadOwningUnitsAsync(CancellationToken ct)
    {
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
            -- An operator family's member belongs to the class that owns it (internally), else to the family.
            UNION ALL SELECT 'pg_amop', a.oid, coalesce((SELECT 'opc:' || d.refobjid FROM pg_depend d WHERE d.classid = 'pg_amop'::regclass AND d.objid = a.oid
                                                           AND d.refclassid = 'pg_opclass'::regclass AND d.deptype = 'i'), 'opf:' || a.amopfamily)
                      FROM pg_amop a WHERE a.oid >= 16384
            UNION ALL SELECT 'pg_amproc', p.oid, coalesce((SELECT 'opc:' || d.refobjid FROM pg_depend d WHERE d.classid = 'pg_amproc'::regclass AND d.objid = p.oid
                                                           AND d.refclassid = 'pg_opclass'::regclass AND d.deptype = 'i'), 'opf:' || p.amprocfamily)
                      FROM pg_amproc p WHERE p.oid >= 16384
            UNION ALL SELECT 'pg_rewrite', r.oid, CASE WHEN r.rulename = '_RETURN' THEN 'rel:' || r.ev_class ELSE 'rule:' || r.oid END FROM pg_rewrite r WHERE r.oid >= 16384
            """, r =>
        {
            if (!r.IsDBNull(2))
            {
                owner[(r.GetString(0), r.GetFieldValue<uint>(1))] = r.GetString(2);
            }
        }, ct);
        return owner;
    }

    /// <summary>
    /// PostgreSQL 14 removed postfix operators, and with them the factorial operators ! (postfix) and !! (prefix) of
    /// bigint: a view, rule, default or check that uses one on an older source cannot be created on a 14+ target.
    /// pg_depend does not record uses of built-in objects, so they are found in the stored expression trees.
    /// </summary>
    private async Task ReadUsesOfRemovedOperatorsAsync(Dictionary<(string, uint), string> owner, CancellationToken ct)
    {
        if (SourceMajor >= 14 || TargetMajor < 14)
        {
            return;
        }
        await QueryAsync("""
            WITH removed AS (
                SELECT o.oid, o.oid::regoperator::text AS name, ':opno ' || o.oid || ' ' AS tree FROM pg_operator o
                WHERE o.oprnamespace = 'pg_catalog'::regnamespace
                  AND (o.oprright = 0 OR o.oprname = '!!' AND o.oprleft = 0 AND o.oprright = 'int8'::regtype))
            SELECT 'pg_rewrite', r.oid, o.oid, o.name FROM pg_rewrite r, removed o WHERE r.oid >= 16384 AND strpos(r.ev_action::text, o.tree) > 0
            UNION ALL SELECT 'pg_attrdef', d.oid, o.oid, o.name FROM pg_attrdef d, removed o WHERE strpos(d.adbin::text, o.tree) > 0
            UNION ALL SELECT 'pg_constraint', c.oid, o.oid, o.name FROM pg_constraint c, removed o WHERE strpos(c.conbin::text, o.tree) > 0
            """, r =>
        {
            if (owner.TryGetValue((r.GetString(0), r.GetFieldValue<uint>(1)), out var unit) && Objects.TryGetValue(unit, out var user))
            {
                var op = $"op:{r.GetFieldValue<uint>(2)}";
                user.DependsOn.Add(op);
                Read.NotOnTarget[op] = $"operator {r.GetString(3)}, which PostgreSQL 14 removed (the target runs {TargetMajor}); call its function (factorial) instead";
            }
        }, ct);
    }

    /// <summary>
    /// An object that depends on something in a user schema that is not selected (or not migrated) cannot be
    /// created: report it, before anything is created, and leave it out. A sequence owned by a column goes with its table.
    /// </summary>
    public void DropUnselectedDependents()
    {
        var knownUserObjects = new HashSet<string>(Selected.AllRelations.Keys.Select(k => $"rel:{k}"), StringComparer.Ordinal);
        var typeOfShell = Read.ShellOfFunction.Values.Distinct().ToDictionary(v => v.Shell, v => v.Type, StringComparer.Ordinal);
        bool changed;
        do
        {
            changed = false;
            // A shell whose type cannot be defined would be left a shell: it goes with the type, and its functions with it.
            foreach (var (shellKey, typeKey) in typeOfShell)
            {
                if (Objects[shellKey].SkipReason is null && Objects[typeKey].SkipReason is not null)
                {
                    Objects[shellKey].SkipReason = $"{Objects[typeKey].Display} is not migrated";
                    Read.Skipped.Add(Objects[shellKey]);
                    changed = true;
                }
            }
            foreach (var o in Objects.Values.Where(o => o.SkipReason is null))
            {
                var missing = o.DependsOn.FirstOrDefault(d =>
                    (Objects.TryGetValue(d, out var dep) && dep.SkipReason is not null)
                    || (!Objects.ContainsKey(d) && (knownUserObjects.Contains(d) || Read.NotOnTarget.ContainsKey(d))));
                var ownerLeftOut = o.OwnerKey is { } owner && Objects.TryGetValue(owner, out var table) && table.SkipReason is not null;
                if (missing is null && !ownerLeftOut)
                {
                    continue;
                }
                if (ownerLeftOut)
                {
                    o.SkipReason = $"owned by a column of {Objects[o.OwnerKey!].Display}, which is not migrated";
                    o.SkippedWith = o.OwnerKey;
                }
                else if (Objects.TryGetValue(missing!, out var dep))
                {
                    o.SkipReason = $"depends on {dep.Display}, which is not migrated";
                    o.SkippedWith = missing;
                }
                else if (Read.NotOnTarget.TryGetValue(missing!, out var why))
                {
                    o.SkipReason = $"depends on {why}";
                }
                else
                {
                    o.SkipReason = $"depends on {Describe(missing!)}, which is not selected";
                }
                Read.Skipped.Add(o);
                changed = true;
            }
        }
        while (changed);
        // One line per cause, naming what goes with it (a skipped object's own line says only its reason).
        foreach (var (cause, dependents) in Read.SkipSummaries().Where(s => s.Dependents.Count > 0 || s.Cause.SkipReason!.StartsWith("depends on", StringComparison.Ordinal)))
        {
            Read.Warnings.Add(dependents.Count == 0
                ? $"{cause.Display} is left out: it {cause.SkipReason}."
                : $"{cause.Display} is left out ({cause.SkipReason}), and with it what depends on it: {string.Join(", ", dependents.Select(d => d.Display))}.");
        }
    }

    private string Describe(string key)
        => key.StartsWith("rel:", StringComparison.Ordinal) && uint.TryParse(key.AsSpan(4), out var oid) && Selected.AllRelations.TryGetValue(oid, out var r)
            ? $"relation {r.Name}"
            : key;
}
