using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Extended statistics (CREATE STATISTICS, pg_statistic_ext) on the relations read, with their statistics target and
/// comment; created with the tables (ANALYZE after the data fills them). One that uses an excluded column, or
/// expressions a target before PostgreSQL 14 cannot hold, is reported skipped.
/// </summary>
internal sealed class StatisticsReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadStatisticsAsync(CancellationToken ct)
    {
        var expressions = SourceMajor >= 14 ? "s.stxexprs IS NOT NULL" : "false";
        await QueryAsync($"""
            SELECT s.oid, s.stxrelid, n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid), {expressions},
                   (to_jsonb(s) ->> 'stxstattarget')::int, obj_description(s.oid, 'pg_statistic_ext')
            FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (FromExtension(oid) || !Objects.TryGetValue($"rel:{r.GetFieldValue<uint>(1)}", out var table) || !SchemaSelected(r.GetString(2)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(2), r.GetString(3));
            var o = Add($"stx:{oid}", ObjectKind.Statistics, r.GetString(2), r.GetString(3), $"statistics {name}");
            o.AlterTarget = $"STATISTICS {name}";
            o.DependsOn.Add(table.Key);
            o.Statements.Add(r.GetString(4));
            if (!r.IsDBNull(6) && r.GetInt32(6) >= 0 && Options.TargetMajor >= 13)
            {
                o.Statements.Add($"ALTER STATISTICS {name} SET STATISTICS {r.GetInt32(6)}");
            }
            if (!r.IsDBNull(7))
            {
                o.Finishing.Add($"COMMENT ON STATISTICS {name} IS {Sql.Literal(r.GetString(7))}");
            }
            if (r.GetBoolean(5) && Options.TargetMajor < 14)
            {
                Skip(o, $"PostgreSQL {Options.TargetMajor} has no statistics on expressions (14+)");
            }
        }, ct);
        await ReadUsesAsync(ct);
    }

    /// <summary>What the statistics use (columns, and in expressions functions and types): an excluded column skips them; the rest orders their creation.</summary>
    private async Task ReadUsesAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT d.objid, d.refclassid::regclass::text, d.refobjid,
                   CASE WHEN d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                        THEN (SELECT attname::text FROM pg_attribute WHERE attrelid = d.refobjid AND attnum = d.refobjsubid) END
            FROM pg_depend d WHERE d.classid = 'pg_statistic_ext'::regclass AND d.deptype IN ('n', 'a')
            """, r =>
        {
            if (!Objects.TryGetValue($"stx:{r.GetFieldValue<uint>(0)}", out var o) || o.SkipReason is not null)
            {
                return;
            }
            var refOid = r.GetFieldValue<uint>(2);
            var key = r.GetString(1) switch { "pg_class" => $"rel:{refOid}", "pg_proc" => $"proc:{refOid}", "pg_type" => $"type:{refOid}", _ => null };
            if (key is null)
            {
                return;
            }
            if (Read.ExtensionOfObject.TryGetValue(refOid, out var extension))
            {
                key = extension;
            }
            if (!r.IsDBNull(3) && Objects.TryGetValue(key, out var rel) && Options.ExcludedColumns.Excludes(new QualifiedName(rel.Schema, rel.Name), r.GetString(3)))
            {
                Skip(o, $"uses column {Sql.Ident(r.GetString(3))} of {rel.Display}, which is excluded");
                return;
            }
            o.DependsOn.Add(key);
        }, ct);
    }

    private void Skip(SchemaObject o, string reason)
    {
        o.SkipReason = reason;
        Read.Skipped.Add(o);
    }
}
