using Npgsql;

namespace PgShift.Catalog;

/// <summary>
/// What on a table stands in the way of a change stream applied to it, with the statement that clears it while the
/// stream runs and the one that puts it back: an identity column GENERATED ALWAYS refuses an UPDATE that sets it (the
/// stream sets every column), and a trigger or rule enabled ALWAYS or REPLICA fires for the apply session even as a
/// replica (the stream carries the rows they wrote on the other side already).
/// </summary>
public sealed record ApplyBlocker(QualifiedName Table, string What, string WhileStreaming, string Restore)
{
    /// <summary>The blockers of <paramref name="tables"/> and of the partitioned tables above them.</summary>
    public static async Task<List<ApplyBlocker>> ReadAsync(NpgsqlConnection conn, IEnumerable<QualifiedName> tables, CancellationToken ct)
    {
        var oids = new List<uint>();
        await using (var resolve = new NpgsqlCommand("SELECT to_regclass(x)::oid FROM unnest(@names::text[]) x WHERE to_regclass(x) IS NOT NULL", conn))
        {
            resolve.Parameters.AddWithValue("names", tables.Select(t => t.Quoted).ToArray());
            await using var rd = await resolve.ExecuteReaderAsync(ct);
            while (await rd.ReadAsync(ct))
            {
                oids.Add(rd.GetFieldValue<uint>(0));
            }
        }
        var list = new List<ApplyBlocker>();
        const string Tree = """
            WITH RECURSIVE up(oid) AS (SELECT unnest(@oids) UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
            """;
        await conn.ForEachRowAsync(Tree + """
            SELECT n.nspname, c.relname, a.attname, c.relkind = 'p'
            FROM up JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE a.attidentity = 'a' AND NOT a.attisdropped AND NOT c.relispartition
            ORDER BY c.oid, a.attnum
            """, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            var alter = $"ALTER TABLE {(r.GetBoolean(3) ? "" : "ONLY ")}{table} ALTER COLUMN {Sql.Ident(r.GetString(2))} SET GENERATED";
            list.Add(new ApplyBlocker(table, $"identity column {Sql.Ident(r.GetString(2))} (GENERATED ALWAYS)", alter + " BY DEFAULT", alter + " ALWAYS"));
        }, ct, [.. oids]);
        await conn.ForEachRowAsync(Tree + """
            SELECT n.nspname, c.relname, 'TRIGGER', t.tgname, t.tgenabled::text
            FROM up JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_trigger t ON t.tgrelid = c.oid
            WHERE NOT t.tgisinternal AND t.tgenabled IN ('A', 'R')
            UNION ALL
            SELECT n.nspname, c.relname, 'RULE', w.rulename, w.ev_enabled::text
            FROM up JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_rewrite w ON w.ev_class = c.oid
            WHERE w.rulename <> '_RETURN' AND w.ev_enabled IN ('A', 'R')
            ORDER BY 1, 2, 3, 4
            """, r =>
        {
            var table = new QualifiedName(r.GetString(0), r.GetString(1));
            var (kind, name) = (r.GetString(2), Sql.Ident(r.GetString(3)));
            var state = r.GetString(4) == "A" ? "ALWAYS" : "REPLICA";
            list.Add(new ApplyBlocker(table, $"{kind.ToLowerInvariant()} {name} (ENABLE {state})",
                $"ALTER TABLE ONLY {table} ENABLE {kind} {name}", $"ALTER TABLE ONLY {table} ENABLE {state} {kind} {name}"));
        }, ct, [.. oids]);
        return list;
    }
}
