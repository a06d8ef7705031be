using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Operator families and classes created by users, as pg_dump writes them (dumpOpfamily, dumpOpclass): the family, with
/// ALTER OPERATOR FAMILY ... ADD for the members no class owns; then each class in its family, with its own members.
/// Indexes that use them come after the data, so after them.
/// </summary>
internal sealed class OperatorClassReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    /// <summary>The operators and support functions of user families, each as written in CREATE OPERATOR CLASS or ALTER OPERATOR FAMILY ... ADD, by owner key.</summary>
    private async Task<Dictionary<string, List<string>>> ReadMembersAsync(CancellationToken ct)
    {
        var members = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        // A member a class owns depends on it internally; the others ("loose") belong to the family only.
        await QueryAsync("""
            WITH owner AS (
                SELECT d.classid, d.objid, d.refobjid FROM pg_depend d
                WHERE d.classid IN ('pg_amop'::regclass, 'pg_amproc'::regclass) AND d.refclassid = 'pg_opclass'::regclass AND d.deptype = 'i')
            SELECT coalesce('opc:' || o.refobjid, 'opf:' || a.amopfamily), 0, a.amopstrategy,
                   format('OPERATOR %s %s', a.amopstrategy, a.amopopr::regoperator)
                   || CASE WHEN a.amoppurpose = 'o' THEN (SELECT ' FOR ORDER BY ' || quote_ident(sn.nspname) || '.' || quote_ident(sf.opfname)
                                                          FROM pg_opfamily sf JOIN pg_namespace sn ON sn.oid = sf.opfnamespace WHERE sf.oid = a.amopsortfamily)
                           ELSE '' END
            FROM pg_amop a LEFT JOIN owner o ON o.classid = 'pg_amop'::regclass AND o.objid = a.oid
            WHERE a.amopfamily >= 16384
            UNION ALL
            SELECT coalesce('opc:' || o.refobjid, 'opf:' || p.amprocfamily), 1, p.amprocnum,
                   format('FUNCTION %s (%s, %s) %s', p.amprocnum, format_type(p.amproclefttype, NULL), format_type(p.amprocrighttype, NULL), p.amproc::regprocedure)
            FROM pg_amproc p LEFT JOIN owner o ON o.classid = 'pg_amproc'::regclass AND o.objid = p.oid
            WHERE p.amprocfamily >= 16384
            ORDER BY 1, 2, 3, 4
            """, r => Append(members, r.GetString(0), r.GetString(3)), ct);
        return members;
    }

    public async Task ReadOperatorClassesAsync(CancellationToken ct)
    {
        var members = await ReadMembersAsync(ct);
        await QueryAsync($"""
            SELECT f.oid, n.nspname, f.opfname, a.amname, a.oid
            FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am a ON a.oid = f.opfmethod
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = Add($"opf:{oid}", ObjectKind.OperatorFamily, r.GetString(1), r.GetString(2), $"operator family {name} using {Sql.Ident(r.GetString(3))}");
            o.AlterTarget = $"OPERATOR FAMILY {name} USING {Sql.Ident(r.GetString(3))}";
            o.Statements.Add($"CREATE {o.AlterTarget}");
            if (members.GetValueOrDefault(o.Key) is { } loose)
            {
                o.Statements.Add($"ALTER {o.AlterTarget} ADD {string.Join(", ", loose)}");
            }
            SkipWhenAccessMethodStays(o, r.GetFieldValue<uint>(4), r.GetString(3));
        }, ct);
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.opcname, a.amname, a.oid, quote_ident(fn.nspname) || '.' || quote_ident(f.opfname),
                   format_type(c.opcintype, NULL), c.opcdefault, CASE WHEN c.opckeytype <> 0 THEN format_type(c.opckeytype, NULL) END
            FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am a ON a.oid = c.opcmethod
            JOIN pg_opfamily f ON f.oid = c.opcfamily JOIN pg_namespace fn ON fn.oid = f.opfnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var am = Sql.Ident(r.GetString(3));
            var o = Add($"opc:{oid}", ObjectKind.OperatorClass, r.GetString(1), r.GetString(2), $"operator class {name} using {am}");
            o.AlterTarget = $"OPERATOR CLASS {name} USING {am}";
            var items = new List<string>();
            if (!r.IsDBNull(8)) items.Add($"STORAGE {r.GetString(8)}");
            items.AddRange(members.GetValueOrDefault(o.Key) ?? []);
            // A class needs one item at least: STORAGE of its own input type says nothing more (as pg_dump writes it).
            if (items.Count == 0) items.Add($"STORAGE {r.GetString(6)}");
            o.Statements.Add($"CREATE OPERATOR CLASS {name} {(r.GetBoolean(7) ? "DEFAULT " : "")}FOR TYPE {r.GetString(6)} USING {am} FAMILY {r.GetString(5)} AS {string.Join(", ", items)}");
            SkipWhenAccessMethodStays(o, r.GetFieldValue<uint>(4), r.GetString(3));
        }, ct);
    }

    /// <summary>An access method created by a user (CREATE ACCESS METHOD, outside an extension) is not migrated: what uses it cannot be created.</summary>
    private void SkipWhenAccessMethodStays(SchemaObject o, uint accessMethod, string name)
    {
        if (accessMethod >= 16384 && !FromExtension(accessMethod))
        {
            o.SkipReason = $"uses the access method {Sql.Ident(name)}, which is not migrated";
            Read.Skipped.Add(o);
        }
    }
}
