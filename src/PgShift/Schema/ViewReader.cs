using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Views, materialized views (created empty, refreshed after the data) and rules.</summary>
internal sealed class ViewReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadViewsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.reloptions, pg_get_viewdef(c.oid),
                   c.relkind = 'v' AND EXISTS (
                       SELECT 1 FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                       WHERE rw.ev_class = c.oid AND d.refclassid = 'pg_constraint'::regclass),
                   coalesce((SELECT string_agg(format('NULL::%s%s AS %I', format_type(a.atttypid, a.atttypmod),
                                       CASE WHEN a.attcollation <> t.typcollation
                                            THEN (SELECT ' COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                                                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
                                            ELSE '' END, a.attname), ', ' ORDER BY a.attnum)
                              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''),
                   (SELECT am.amname FROM pg_am am WHERE am.oid = c.relam AND c.relkind = 'm' AND am.amname <> 'heap')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Selected.Contains(oid) || FromExtension(oid))
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
            if (materialized)
            {
                // A table access method other than heap (PostgreSQL 12+, as a table's).
                var usingAm = r.IsDBNull(8) || TargetMajor < 12 ? "" : $" USING {Sql.Ident(r.GetString(8))}";
                o.Statements.Add($"CREATE MATERIALIZED VIEW {name}{usingAm}{with} AS {body} WITH NO DATA");
            }
            else if (!r.GetBoolean(6))
            {
                o.Statements.Add($"CREATE VIEW {name}{with} AS {body}");
            }
            else
            {
                // The definition needs a key that is built after the data (GROUP BY a primary key, as pg_dump also
                // finds): a placeholder with the same columns now, for what depends on the view; the real definition
                // replaces it once the keys exist.
                o.Statements.Add($"CREATE VIEW {name}{with} AS SELECT {r.GetString(7)}");
                o.AfterData.Add((PostDataKind.View, r.GetString(2), $"CREATE OR REPLACE VIEW {name}{with} AS {body}"));
            }
        }, ct);
    }

    /// <summary>A materialized view's column options (compression, storage, statistics target), as a table's are set.</summary>
    public async Task ReadMaterializedViewColumnsAsync(CancellationToken ct)
    {
        var compression = SourceMajor >= 14 ? "nullif(a.attcompression::text, '')" : "NULL::text";
        var statTarget = SourceMajor >= 17 ? "a.attstattarget::int" : "nullif(a.attstattarget, -1)::int";
        await QueryAsync($"""
            SELECT 'rel:' || c.oid, a.attname, {compression}, CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, {statTarget}
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid
            WHERE c.relkind = 'm' AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.oid, a.attnum
            """, r =>
        {
            if (!Objects.TryGetValue(r.GetString(0), out var mv))
            {
                return;
            }
            var column = $"ALTER MATERIALIZED VIEW {Sql.Qualified(mv.Schema, mv.Name)} ALTER COLUMN {Sql.Ident(r.GetString(1))}";
            if (!r.IsDBNull(2) && TargetMajor >= 14)
            {
                if (r.GetString(2) == "l" && !Options.TargetHasLz4)
                {
                    Read.Warnings.Add($"Column {Sql.Ident(r.GetString(1))} of {mv.Display} is compressed with lz4, which the target's server was built without: it gets the target's default compression.");
                }
                else
                {
                    mv.Statements.Add($"{column} SET COMPRESSION {(r.GetString(2) == "l" ? "lz4" : "pglz")}");
                }
            }
            if (!r.IsDBNull(3))
            {
                mv.Statements.Add($"{column} SET STORAGE {r.GetString(3) switch { "p" => "PLAIN", "e" => "EXTERNAL", "m" => "MAIN", _ => "EXTENDED" }}");
            }
            if (!r.IsDBNull(4) && r.GetInt32(4) >= 0)
            {
                mv.Statements.Add($"{column} SET STATISTICS {r.GetInt32(4)}");
            }
        }, ct);
    }

    public async Task ReadRulesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT r.oid, n.nspname, c.relname, r.rulename, pg_get_ruledef(r.oid), r.ev_class, r.ev_enabled::text
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE r.rulename <> '_RETURN' AND {UserSchemas}
            """, r =>
        {
            var rel = r.GetFieldValue<uint>(5);
            if (!Selected.Contains(rel))
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
            var created = !Options.StreamFollows ? state
                : Options.DeferForeignKeysAndTriggers || state == "D" ? "D"
                : "O";
            if (created != "O")
            {
                o.Statements.Add($"ALTER TABLE {table} {PostDataReader.EnableState(created)} RULE {Sql.Ident(r.GetString(3))}");
            }
            o.DependsOn.Add($"rel:{rel}");
        }, ct);
    }
}
