using Npgsql;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// A normalised description of every user object in a database, one line per object (or per column,
/// constraint, index, dependency, comment), built from the catalog rows themselves: pg_class,
/// pg_attribute, pg_constraint, pg_index, pg_proc, pg_type, pg_sequence, pg_trigger, pg_rewrite,
/// pg_depend, pg_description and the ACL columns. It deliberately avoids the deparse functions the
/// migrator builds its DDL with (pg_get_viewdef, pg_get_functiondef, pg_get_constraintdef,
/// pg_get_indexdef, pg_get_triggerdef), so a deparse bug cannot hide itself. Views are described by
/// their columns and by what their query depends on (pg_depend of the view's rewrite rule), not by
/// their text. Expressions (defaults, CHECK bodies, index expressions and predicates, partition bounds,
/// argument defaults) are the one place where pg_get_expr is used: a catalog node tree holds oids and
/// parse locations that differ between databases, and pg_get_expr is the only stable way to read it.
/// A trigger's WHEN clause is compared by its presence only (pg_get_expr cannot print its OLD/NEW).
/// Leaves out PgShift's own <c>pgshift</c> schema, extension members, and what legitimately differs
/// between PostgreSQL 12 and 17: the public schema's ACL, the MAINTAIN privilege (m) that 17 gives an
/// owner, 17's catalogued domain NOT NULL constraints (typnotnull says the same), and the multirange
/// constructors that 14+ add to every range type. A collation is described by what creates it: an ICU one by its
/// locale (which 12 keeps in collcollate/collctype, 15 and 16 in colliculocale, 17 in colllocale), not by its version,
/// which each server's own ICU library gives; collations are named, not numbered. ACL entries are sorted (GRANT order is not meaningful),
/// and a NULL ACL is read as the default it stands for (acldefault), so a REVOKE that restored the
/// default equals no GRANT at all.
/// </summary>
public static class CatalogDescription
{
    public static async Task<List<string>> TakeAsync(TestServer server, string database)
    {
        await using var conn = await server.OpenAsync(database);
        await using (var set = new NpgsqlCommand("SET search_path = pg_catalog", conn))
        {
            await set.ExecuteNonQueryAsync();
        }
        var lines = new List<string>();
        await using var cmd = new NpgsqlCommand(Query, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }
        return lines;
    }

    /// <summary>Lines only on one side, for an assertion message a person can act on; empty when equal.</summary>
    public static string Differences(IReadOnlyCollection<string> source, IReadOnlyCollection<string> target, int max = 60)
        => LineDiff.Describe(source, target, "source", "target", max);

    private const string Query = """
        WITH
         ns AS (SELECT oid, nspname FROM pg_namespace
                WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'pgshift')
                  AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%'),
         ext_member AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e'),
         rel AS (SELECT c.*, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
                 FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
                 WHERE NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid)),
         col AS (SELECT a.attrelid, a.attnum, quote_ident(a.attname) AS name FROM pg_attribute a WHERE a.attnum > 0 AND NOT a.attisdropped),
         coll AS (SELECT co.oid, quote_ident(cn.nspname) || '.' || quote_ident(co.collname) AS name FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace),
         usertype AS (SELECT t.*, quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS qname
                 FROM pg_type t JOIN ns n ON n.oid = t.typnamespace
                 WHERE NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid)),
         userproc AS (SELECT p.*, quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')' AS qname
                 FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
                 WHERE NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid))
        SELECT line FROM (
         SELECT 'schema ' || quote_ident(nspname) || ' acl=' || CASE WHEN nspname = 'public' THEN '(not compared)' ELSE coalesce((SELECT string_agg(regexp_replace(x::text, '^([^=]*=[^/m]*)m', '\1'), ',' ORDER BY x::text) FROM unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) x), '') END
           FROM pg_namespace n WHERE n.oid IN (SELECT oid FROM ns)
         UNION ALL
         SELECT 'extension ' || quote_ident(x.extname) || ' schema=' || quote_ident(n.nspname)
           FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE x.extname <> 'plpgsql'
         UNION ALL
         SELECT 'collation ' || quote_ident(n.nspname) || '.' || quote_ident(c.collname) || ' provider=' || c.collprovider::text
                || CASE WHEN c.collprovider = 'c' THEN ' collate=' || coalesce(c.collcollate, '') || ' ctype=' || coalesce(c.collctype, '')
                        ELSE ' locale=' || coalesce(j->>'colllocale', j->>'colliculocale', c.collcollate, '') || ' rules=' || coalesce(j->>'collicurules', '') END
                || ' deterministic=' || c.collisdeterministic
           FROM pg_collation c JOIN ns n ON n.oid = c.collnamespace, to_jsonb(c) j
         UNION ALL
         SELECT 'relation ' || r.qname || ' kind=' || r.relkind::text || ' persistence=' || r.relpersistence::text
                || ' options=' || coalesce(r.reloptions::text, '') || ' replident=' || r.relreplident::text
                || ' rls=' || r.relrowsecurity || '/' || r.relforcerowsecurity
                || ' am=' || coalesce((SELECT amname FROM pg_am WHERE oid = r.relam), '')
                || ' partition_of=' || coalesce((SELECT string_agg(p.qname, ',') FROM pg_inherits i JOIN rel p ON p.oid = i.inhparent WHERE i.inhrelid = r.oid AND r.relispartition), '')
                || ' bound=' || coalesce(pg_get_expr(r.relpartbound, r.oid), '')
                || ' inherits=' || coalesce((SELECT string_agg(p.qname, ',' ORDER BY i.inhseqno) FROM pg_inherits i JOIN rel p ON p.oid = i.inhparent WHERE i.inhrelid = r.oid AND NOT r.relispartition), '')
                || ' partition_key=' || coalesce((SELECT pt.partstrat::text || '(' || (SELECT string_agg(coalesce(cl.name, 'expr'), ',' ORDER BY k.i) FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY k(attnum, i) LEFT JOIN col cl ON cl.attrelid = r.oid AND cl.attnum = k.attnum) || ')' FROM pg_partitioned_table pt WHERE pt.partrelid = r.oid), '')
                || ' populated=' || CASE WHEN r.relkind = 'm' THEN r.relispopulated::text ELSE '' END
                || ' acl=' || coalesce((SELECT string_agg(regexp_replace(x::text, '^([^=]*=[^/m]*)m', '\1'), ',' ORDER BY x::text) FROM unnest(coalesce(r.relacl, acldefault(CASE WHEN r.relkind = 'S' THEN 's' ELSE 'r' END::"char", r.relowner))) x), '')
           FROM rel r WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')
         UNION ALL
         SELECT 'column ' || r.qname || ' #' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) || ' ' || quote_ident(a.attname)
                || ' type=' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
                || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text || ' storage=' || a.attstorage::text
                || ' collation=' || coalesce((SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation), '')
                || ' local=' || a.attislocal || ' inherited=' || a.attinhcount
                || ' default=' || coalesce((SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), '')
                || ' options=' || coalesce((SELECT string_agg(o, ',' ORDER BY o) FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_%'), '') || ' acl=' || coalesce((SELECT string_agg(regexp_replace(x::text, '^([^=]*=[^/m]*)m', '\1'), ',' ORDER BY x::text) FROM unnest(a.attacl) x), '')
           FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid
          WHERE a.attnum > 0 AND NOT a.attisdropped AND r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
         UNION ALL
         SELECT 'constraint ' || coalesce(r.qname, t.qname) || ' ' || quote_ident(c.conname) || ' type=' || c.contype::text
                || ' deferrable=' || c.condeferrable || '/' || c.condeferred || ' validated=' || c.convalidated
                || ' local=' || c.conislocal || ' inherited=' || c.coninhcount || ' noinherit=' || c.connoinherit || ' cloned=' || (c.conparentid <> 0)
                || ' columns=' || coalesce((SELECT string_agg(cl.name, ',' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, i) JOIN col cl ON cl.attrelid = c.conrelid AND cl.attnum = k.attnum), '')
                || ' references=' || coalesce((SELECT f.qname FROM rel f WHERE f.oid = c.confrelid), '')
                || '(' || coalesce((SELECT string_agg(cl.name, ',' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, i) JOIN col cl ON cl.attrelid = c.confrelid AND cl.attnum = k.attnum), '') || ')'
                || ' on_update=' || c.confupdtype::text || ' on_delete=' || c.confdeltype::text || ' match=' || c.confmatchtype::text
                || ' exclusion_ops=' || coalesce((SELECT string_agg(o.oid::regoperator::text, ',' ORDER BY k.i) FROM unnest(c.conexclop) WITH ORDINALITY k(op, i) JOIN pg_operator o ON o.oid = k.op), '')
                || ' index=' || coalesce((SELECT quote_ident(ic.relname) FROM pg_class ic WHERE ic.oid = c.conindid), '')
                || ' check=' || coalesce(pg_get_expr(c.conbin, c.conrelid), '')
           FROM pg_constraint c LEFT JOIN rel r ON r.oid = c.conrelid LEFT JOIN usertype t ON t.oid = c.contypid
          WHERE (r.oid IS NOT NULL OR t.oid IS NOT NULL) AND c.contype <> 'n'
         UNION ALL
         SELECT 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ' on=' || r.qname || ' am=' || am.amname
                || ' unique=' || i.indisunique || ' primary=' || i.indisprimary || ' exclusion=' || i.indisexclusion || ' immediate=' || i.indimmediate
                || ' clustered=' || i.indisclustered || ' valid=' || i.indisvalid || ' replident=' || i.indisreplident
                || ' columns=' || (SELECT string_agg(coalesce(cl.name, 'expr'), ',' ORDER BY k.i) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, i) LEFT JOIN col cl ON cl.attrelid = i.indrelid AND cl.attnum = k.attnum)
                || ' opclasses=' || (SELECT string_agg(quote_ident(opn.nspname) || '.' || quote_ident(oc.opcname), ',' ORDER BY k.i) FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(opc, i) JOIN pg_opclass oc ON oc.oid = k.opc JOIN pg_namespace opn ON opn.oid = oc.opcnamespace)
                || ' options=' || i.indoption::text || ' collations=' || (SELECT string_agg(coalesce(cl.name, '-'), ',' ORDER BY k.i) FROM unnest(i.indcollation::oid[]) WITH ORDINALITY k(coll, i) LEFT JOIN coll cl ON cl.oid = k.coll)
                || ' expressions=' || coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || ' predicate=' || coalesce(pg_get_expr(i.indpred, i.indrelid), '')
                || ' storage=' || coalesce(ic.reloptions::text, '')
                || ' attached_to=' || coalesce((SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.relname) FROM pg_inherits ih JOIN pg_class p ON p.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE ih.inhrelid = ic.oid), '')
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
           JOIN rel r ON r.oid = i.indrelid JOIN pg_am am ON am.oid = ic.relam
         UNION ALL
         SELECT 'sequence ' || r.qname || ' type=' || format_type(s.seqtypid, NULL) || ' start=' || s.seqstart || ' increment=' || s.seqincrement
                || ' min=' || s.seqmin || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
                || ' owned_by=' || coalesce((SELECT string_agg(o.qname || '.' || cl.name || ':' || d.deptype::text, ',') FROM pg_depend d JOIN rel o ON o.oid = d.refobjid JOIN col cl ON cl.attrelid = d.refobjid AND cl.attnum = d.refobjsubid
                                             WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '')
                || ' last_value=' || coalesce(pg_sequence_last_value(r.oid)::text, 'not called')
           FROM pg_sequence s JOIN rel r ON r.oid = s.seqrelid
         UNION ALL
         SELECT 'type ' || t.qname || ' kind=' || t.typtype::text || ' acl=' || coalesce((SELECT string_agg(regexp_replace(x::text, '^([^=]*=[^/m]*)m', '\1'), ',' ORDER BY x::text) FROM unnest(coalesce(t.typacl, acldefault('T', t.typowner))) x), '')
                || CASE t.typtype
                     WHEN 'e' THEN ' labels=' || (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
                     WHEN 'r' THEN (SELECT ' subtype=' || format_type(rg.rngsubtype, NULL) || ' opclass=' || rg.rngsubopc::regclass::text
                                           || ' collation=' || coalesce((SELECT name FROM coll WHERE oid = rg.rngcollation), '-') || ' canonical=' || rg.rngcanonical::regprocedure::text || ' diff=' || rg.rngsubdiff::text
                                      FROM pg_range rg WHERE rg.rngtypid = t.oid)
                     WHEN 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod) || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '')
                                   || ' collation=' || coalesce((SELECT name FROM coll WHERE oid = t.typcollation), '-')
                     ELSE ''
                   END
           FROM usertype t
          WHERE t.typtype IN ('e', 'r', 'd', 'b') AND t.typelem = 0 OR t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'
         UNION ALL
         SELECT 'function ' || p.qname || ' kind=' || p.prokind::text || ' returns=' || format_type(p.prorettype, NULL) || ' set=' || p.proretset
                || ' language=' || (SELECT lanname FROM pg_language WHERE oid = p.prolang)
                || ' security_definer=' || p.prosecdef || ' volatility=' || p.provolatile::text || ' strict=' || p.proisstrict || ' leakproof=' || p.proleakproof
                || ' parallel=' || p.proparallel::text || ' cost=' || p.procost || ' rows=' || p.prorows
                || ' config=' || coalesce(p.proconfig::text, '') || ' arg_names=' || coalesce(p.proargnames::text, '') || ' arg_modes=' || coalesce(p.proargmodes::text, '')
                || ' all_args=' || coalesce((SELECT string_agg(format_type(x, NULL), ',' ORDER BY i) FROM unnest(p.proallargtypes) WITH ORDINALITY u(x, i)), '')
                || ' defaults=' || coalesce(pg_get_expr(p.proargdefaults, 0), '')
                || ' acl=' || coalesce((SELECT string_agg(regexp_replace(x::text, '^([^=]*=[^/m]*)m', '\1'), ',' ORDER BY x::text) FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) x), '') || ' body=' || quote_literal(p.prosrc)
                || coalesce((SELECT ' aggregate: kind=' || a.aggkind::text || ' transition=' || a.aggtransfn::regprocedure::text || ' state=' || format_type(a.aggtranstype, NULL)
                                    || ' final=' || a.aggfinalfn::text || ' combine=' || a.aggcombinefn::text || ' initial=' || coalesce(quote_literal(a.agginitval), 'null')
                               FROM pg_aggregate a WHERE a.aggfnoid = p.oid), '')
           FROM userproc p
          WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
         UNION ALL
         SELECT 'operator ' || quote_ident(n.nspname) || '.' || o.oprname || '(' || format_type(o.oprleft, NULL) || ',' || format_type(o.oprright, NULL) || ')'
                || ' result=' || format_type(o.oprresult, NULL) || ' function=' || o.oprcode::regprocedure::text
                || ' commutator=' || o.oprcom::regoperator::text || ' negator=' || o.oprnegate::regoperator::text
                || ' restrict=' || o.oprrest::text || ' join=' || o.oprjoin::text || ' merges=' || o.oprcanmerge || ' hashes=' || o.oprcanhash
           FROM pg_operator o JOIN ns n ON n.oid = o.oprnamespace
          WHERE NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_operator'::regclass AND e.objid = o.oid)
         UNION ALL
         SELECT 'trigger ' || r.qname || ' ' || quote_ident(t.tgname) || ' function=' || t.tgfoid::regprocedure::text || ' type=' || t.tgtype
                || ' enabled=' || t.tgenabled::text || ' deferrable=' || t.tgdeferrable || '/' || t.tginitdeferred
                || ' args=' || encode(t.tgargs, 'escape') || ' columns=' || coalesce((SELECT string_agg(cl.name, ',' ORDER BY k.i) FROM unnest(t.tgattr::int2[]) WITH ORDINALITY k(attnum, i) JOIN col cl ON cl.attrelid = t.tgrelid AND cl.attnum = k.attnum), '')
                || ' has_when=' || (t.tgqual IS NOT NULL) || ' transition_tables=' || coalesce(t.tgoldtable, '') || '/' || coalesce(t.tgnewtable, '')
           FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid
          WHERE NOT t.tgisinternal
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype IN ('P', 'I'))
         UNION ALL
         SELECT 'rule ' || r.qname || ' ' || quote_ident(w.rulename) || ' event=' || w.ev_type::text || ' instead=' || w.is_instead || ' enabled=' || w.ev_enabled::text
           FROM pg_rewrite w JOIN rel r ON r.oid = w.ev_class WHERE w.rulename <> '_RETURN'
         UNION ALL
         SELECT 'uses ' || CASE WHEN w.rulename = '_RETURN' THEN 'view ' || r.qname ELSE 'rule ' || r.qname || ' ' || quote_ident(w.rulename) END
                || ' -> ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
           FROM pg_rewrite w JOIN rel r ON r.oid = w.ev_class
           JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.deptype = 'n'
          WHERE d.refobjid >= 16384 AND NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = r.oid AND d.refobjsubid = 0)
         UNION ALL
         SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || quote_literal(d.description)
           FROM pg_description d
          WHERE d.objoid >= 16384
            AND NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = d.classoid AND e.objid = d.objoid)
            AND pg_describe_object(d.classoid, d.objoid, d.objsubid) !~ '(^| )"?pgshift"?\.'
            AND d.classoid <> 'pg_namespace'::regclass OR d.classoid = 'pg_namespace'::regclass AND d.objoid IN (SELECT oid FROM ns) AND d.objoid >= 16384
        ) lines(line)
        ORDER BY line COLLATE "C"
        """;
}

/// <summary>Compares two multisets of lines (order is not meaningful) and says what is on one side only.</summary>
public static class LineDiff
{
    public static string Describe(IReadOnlyCollection<string> left, IReadOnlyCollection<string> right, string leftName, string rightName, int max = 60)
    {
        var onlyLeft = Subtract(left, right);
        var onlyRight = Subtract(right, left);
        if (onlyLeft.Count == 0 && onlyRight.Count == 0)
        {
            return "";
        }
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{onlyLeft.Count} only on the {leftName}, {onlyRight.Count} only on the {rightName}:");
        foreach (var l in onlyLeft.Take(max))
        {
            sb.AppendLine($"- {leftName}: {l}");
        }
        foreach (var l in onlyRight.Take(max))
        {
            sb.AppendLine($"+ {rightName}: {l}");
        }
        return sb.ToString();
    }

    private static List<string> Subtract(IEnumerable<string> a, IEnumerable<string> b)
    {
        var counts = b.GroupBy(x => x, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var x in a.Order(StringComparer.Ordinal))
        {
            if (counts.TryGetValue(x, out var n) && n > 0)
            {
                counts[x] = n - 1;
            }
            else
            {
                result.Add(x);
            }
        }
        return result;
    }
}
