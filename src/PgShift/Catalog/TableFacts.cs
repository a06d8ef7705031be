using Npgsql;

namespace PgShift.Catalog;

/// <summary>A source table as the precheck sees it: replica identity, keys, ownership, privileges.</summary>
public sealed record TableFacts(
    uint Oid,
    QualifiedName Name,
    char RelKind,
    char Persistence,
    char ReplicaIdentity,
    bool HasPrimaryKey,
    string? UniqueNotNullIndex,
    bool IsPartition,
    bool CanSelect,
    bool OwnedByCurrentUser,
    long EstimatedBytes)
{
    public bool IsPartitioned => RelKind == 'p';
    public bool IsUnlogged => Persistence == 'u';

    /// <summary>Every ordinary table, partitioned table and partition in a user schema (which of them a task moves is the selection's answer).</summary>
    public static async Task<List<TableFacts>> LoadAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        const string sql = """
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.relreplident::text,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                   (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                     WHERE i.indrelid = c.oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
                       AND i.indimmediate AND i.indisvalid
                       AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                        WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)
                     ORDER BY i.indnatts, ic.relname LIMIT 1),
                   c.relispartition,
                   has_table_privilege(c.oid, 'SELECT'),
                   pg_has_role(c.relowner, 'USAGE'),
                   CASE WHEN c.relkind = 'r' THEN pg_total_relation_size(c.oid) ELSE 0 END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname
            """;
        var result = new List<TableFacts>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            var name = new QualifiedName(rd.GetString(1), rd.GetString(2));
            result.Add(new TableFacts(
                rd.GetFieldValue<uint>(0), name, rd.GetString(3)[0], rd.GetString(4)[0], rd.GetString(5)[0],
                rd.GetBoolean(6), rd.IsDBNull(7) ? null : rd.GetString(7), rd.GetBoolean(8), rd.GetBoolean(9),
                rd.GetBoolean(10), rd.GetInt64(11)));
        }
        return result;
    }
}
