using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Reads what is built after the data: primary keys, unique and exclusion constraints, indexes, foreign
/// keys, triggers (with their enable state), replica identity indexes, comments on them. Objects that
/// PostgreSQL creates by itself (partition clones, internal triggers) are left to it. Statements name
/// tables as the source's deparse functions print them (search_path empty); <see cref="PostDataMapper"/>
/// turns them into the target's names.
/// </summary>
public static class PostDataReader
{
    public static async Task<List<PostDataStatement>> ReadAsync(NpgsqlConnection conn, IReadOnlyDictionary<uint, QualifiedName> tables,
        IReadOnlySet<uint> matviews, CancellationToken ct)
    {
        var result = new List<PostDataStatement>();
        var selected = tables.Keys.Concat(matviews).ToArray();
        await using (var cmd = new NpgsqlCommand("SET search_path = ''", conn))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await ReadConstraintsAsync(conn, selected, result, ct);
        await ReadIndexesAsync(conn, selected, result, ct);
        await ReadTriggersAsync(conn, selected, result, ct);
        await ReadClonedTriggerStatesAsync(conn, selected, result, ct);
        await ReadRuleStatesAsync(conn, selected, result, ct);
        await ReadIdentityAlwaysAsync(conn, selected, result, ct);
        return result;
    }

    private static async Task ReadConstraintsAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        var notCloned = conn.PostgreSqlVersion.Major >= 11 ? "c.conparentid = 0" : "true";
        await QueryAsync(conn, $"""
            SELECT n.nspname, r.relname, c.contype::text, c.conname, pg_get_constraintdef(c.oid), r.relkind::text,
                   pg_total_relation_size(r.oid), obj_description(c.oid, 'pg_constraint'), fn.nspname, fr.relname,
                   quote_ident(fn.nspname) || '.' || quote_ident(fr.relname)
            FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            LEFT JOIN pg_class fr ON fr.oid = c.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fr.relnamespace
            WHERE (c.contype IN ('p', 'u', 'x', 'f') OR c.contype = 'c' AND NOT c.convalidated AND c.coninhcount = 0)
              AND c.conrelid = ANY(@oids) AND {notCloned} AND c.conislocal
            ORDER BY c.conrelid, c.conname
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            // A CHECK that is NOT VALID (rows before it may break it) comes after the data, and reaches the inheritance
            // children as on the source, where they hold it inherited.
            var only = r.GetString(5) == "p" || r.GetString(2) == "c" ? "" : "ONLY ";
            var isFk = r.GetString(2) == "f";
            var name = r.GetString(3);
            QualifiedName? referenced = isFk ? new QualifiedName(r.GetString(8), r.GetString(9)) : null;
            var def = isFk ? r.GetString(4).Replace($"REFERENCES {r.GetString(10)}(", $"REFERENCES {referenced}(", StringComparison.Ordinal) : r.GetString(4);
            var sql = $"ALTER TABLE {only}{table} ADD CONSTRAINT {Sql.Ident(name)} {def}";
            result.Add(new PostDataStatement(isFk ? PostDataKind.ForeignKey : PostDataKind.Constraint, table, name, sql, r.GetInt64(6), referenced));
            if (!r.IsDBNull(7))
            {
                result.Add(new PostDataStatement(PostDataKind.Other, table, name,
                    $"COMMENT ON CONSTRAINT {Sql.Ident(name)} ON {table} IS {Sql.Literal(r.GetString(7))}", 0));
            }
        }, ct);
    }

    private static async Task ReadIndexesAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        await QueryAsync(conn, """
            SELECT n.nspname, r.relname, ic.relname, pg_get_indexdef(i.indexrelid), pg_total_relation_size(r.oid), i.indisreplident,
                   obj_description(i.indexrelid, 'pg_class'),
                   EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x') AND c.conrelid = i.indrelid),
                   quote_ident(n.nspname) || '.' || quote_ident(r.relname),
                   ic.relkind = 'I' AND NOT i.indisvalid,
                   (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) FROM pg_inherits h JOIN pg_class pc ON pc.oid = h.inhparent
                      JOIN pg_namespace pn ON pn.oid = pc.relnamespace JOIN pg_index pi ON pi.indexrelid = h.inhparent
                     WHERE h.inhrelid = i.indexrelid AND NOT pi.indisvalid)
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class r ON r.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = r.relnamespace
            WHERE i.indrelid = ANY(@oids)
              AND (NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                   -- A partition's index attached to a partitioned index that is not valid (another partition lacks it):
                   -- the parent is built ON ONLY, so this one is built and attached on its own, as on the source.
                   OR EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_index pi ON pi.indexrelid = h.inhparent WHERE h.inhrelid = i.indexrelid AND NOT pi.indisvalid))
            ORDER BY i.indrelid, ic.relname
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            var index = r.GetString(2);
            if (!r.GetBoolean(7))
            {
                // Rewritten to PgShift's own quoting of the table, so the mapper finds it; without ONLY a partitioned
                // table's index cascades to the partitions, which is what a valid one has.
                var def = r.GetString(3);
                var deparsedTable = r.GetString(8);
                def = def.Replace($" ON ONLY {deparsedTable} USING ", $" ON {(r.GetBoolean(9) ? "ONLY " : "")}{table} USING ", StringComparison.Ordinal)
                         .Replace($" ON {deparsedTable} USING ", $" ON {table} USING ", StringComparison.Ordinal);
                result.Add(new PostDataStatement(PostDataKind.Index, table, index, def, r.GetInt64(4)));
                if (!r.IsDBNull(10))
                {
                    result.Add(new PostDataStatement(PostDataKind.Other, table, index,
                        $"ALTER INDEX {r.GetString(10)} ATTACH PARTITION {Sql.Qualified(table.Schema, index)}", 0));
                }
            }
            if (r.GetBoolean(5))
            {
                result.Add(new PostDataStatement(PostDataKind.Other, table, index, $"ALTER TABLE ONLY {table} REPLICA IDENTITY USING INDEX {Sql.Ident(index)}", 0));
            }
            if (!r.IsDBNull(6))
            {
                result.Add(new PostDataStatement(PostDataKind.Other, table, index, $"COMMENT ON INDEX {Sql.Qualified(table.Schema, index)} IS {Sql.Literal(r.GetString(6))}", 0));
            }
        }, ct);
    }

    private static async Task ReadTriggersAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        var triggerNotCloned = conn.PostgreSqlVersion.Major >= 13 ? "t.tgparentid = 0" : "true";
        await QueryAsync(conn, $"""
            SELECT n.nspname, r.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text, obj_description(t.oid, 'pg_trigger'),
                   quote_ident(n.nspname) || '.' || quote_ident(r.relname)
            FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            WHERE t.tgrelid = ANY(@oids) AND NOT t.tgisinternal AND {triggerNotCloned}
            ORDER BY t.tgrelid, t.tgname
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            var name = r.GetString(2);
            var def = r.GetString(3).Replace($" ON {r.GetString(6)} ", $" ON {table} ", StringComparison.Ordinal);
            result.Add(new PostDataStatement(PostDataKind.Trigger, table, name, def, 0));
            if (r.GetString(4) != "O")
            {
                result.Add(new PostDataStatement(PostDataKind.Other, table, name, $"ALTER TABLE {table} {EnableState(r.GetString(4))} TRIGGER {Sql.Ident(name)}", 0));
            }
            if (!r.IsDBNull(5))
            {
                result.Add(new PostDataStatement(PostDataKind.Other, table, name, $"COMMENT ON TRIGGER {Sql.Ident(name)} ON {table} IS {Sql.Literal(r.GetString(5))}", 0));
            }
        }, ct);
    }

    /// <summary>
    /// A partition's clone of its parent's trigger set to another state than the parent's (ALTER TABLE ONLY partition
    /// DISABLE TRIGGER): after every parent's state, which reaches the partitions.
    /// </summary>
    private static async Task ReadClonedTriggerStatesAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        // Before PostgreSQL 13 a clone names its parent only in pg_depend (a partition dependency).
        var parent = conn.PostgreSqlVersion.Major >= 13 ? "t.tgparentid"
            : "(SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.refclassid = 'pg_trigger'::regclass AND d.deptype = 'P')";
        await QueryAsync(conn, $"""
            SELECT n.nspname, r.relname, t.tgname, t.tgenabled::text
            FROM pg_trigger t JOIN pg_trigger p ON p.oid = {parent}
            JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            WHERE t.tgrelid = ANY(@oids) AND t.tgenabled <> p.tgenabled
            ORDER BY t.tgrelid, t.tgname
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            result.Add(new PostDataStatement(PostDataKind.Other, table, r.GetString(2),
                $"ALTER TABLE ONLY {table} {EnableState(r.GetString(3))} TRIGGER {Sql.Ident(r.GetString(2))}", 0));
        }, ct);
    }

    private static async Task ReadRuleStatesAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        // Rules are created before the data, without their enable state while a change stream follows (they would
        // fire for the applied changes); the state is set here, at the cutover for a task that streams.
        await QueryAsync(conn, """
            SELECT n.nspname, c.relname, r.rulename, r.ev_enabled::text
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE r.ev_class = ANY(@oids) AND r.rulename <> '_RETURN'
            ORDER BY r.ev_class, r.rulename
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            result.Add(new PostDataStatement(PostDataKind.Other, table, r.GetString(2),
                $"ALTER TABLE {table} {EnableState(r.GetString(3))} RULE {Sql.Ident(r.GetString(2))}", 0));
        }, ct);
    }

    private static async Task ReadIdentityAlwaysAsync(NpgsqlConnection conn, uint[] selected, List<PostDataStatement> result, CancellationToken ct)
    {
        // Identity columns GENERATED ALWAYS on the source are created BY DEFAULT while a change stream follows.
        await QueryAsync(conn, """
            SELECT n.nspname, c.relname, a.attname, c.relkind = 'p'
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attrelid = ANY(@oids) AND a.attidentity = 'a' AND NOT a.attisdropped AND NOT c.relispartition
            ORDER BY c.oid, a.attnum
            """, selected, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            result.Add(new PostDataStatement(PostDataKind.Other, table, r.GetString(2),
                $"ALTER TABLE {(r.GetBoolean(3) ? "" : "ONLY ")}{table} ALTER COLUMN {Sql.Ident(r.GetString(2))} SET GENERATED ALWAYS", 0));
        }, ct);
    }

    /// <summary>The ALTER TABLE words for a trigger's or rule's enable state (pg_trigger.tgenabled, pg_rewrite.ev_enabled).</summary>
    public static string EnableState(string state) => state switch
    {
        "D" => "DISABLE",
        "A" => "ENABLE ALWAYS",
        "R" => "ENABLE REPLICA",
        _ => "ENABLE",
    };

    private static Task QueryAsync(NpgsqlConnection conn, string sql, uint[] rels, Action<NpgsqlDataReader> row, CancellationToken ct)
        => conn.ForEachRowAsync(sql, row, ct, rels);
}
