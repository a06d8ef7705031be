using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Who owns each object read, as <c>ALTER ... OWNER TO</c> statements (<see cref="OwnerStatement"/>), run on the target
/// after every object exists and before the grants, as pg_restore does: grants then record the owner as their grantor,
/// and an owner's own revoked privileges (<see cref="GrantReader"/>) apply to the right role. Not read with
/// <c>--no-owner</c>. Left alone: objects without owners (casts, access methods, text search parsers and templates,
/// transforms), extensions (CREATE EXTENSION decides), a sequence owned by a column (it follows its table), and the
/// public schema while it has its default owner (the bootstrap superuser, or pg_database_owner from 15).
/// </summary>
internal sealed class OwnerReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadOwnersAsync(CancellationToken ct)
    {
        if (!Options.Owners)
        {
            return;
        }
        var addressed = Read.Addressed.ToDictionary(a => a.Value.Key, a => a.Value.Address, StringComparer.Ordinal);
        await QueryAsync("""
            SELECT 'ns:' || n.oid, pg_get_userbyid(n.nspowner), n.nspname = 'public' AND (n.nspowner = 10 OR pg_get_userbyid(n.nspowner) = 'pg_database_owner')
              FROM pg_namespace n
            UNION ALL SELECT 'rel:' || c.oid, pg_get_userbyid(c.relowner), false FROM pg_class c WHERE c.relkind NOT IN ('i', 'I', 't')
            UNION ALL SELECT 'type:' || t.oid, pg_get_userbyid(t.typowner), false FROM pg_type t WHERE t.typrelid = 0
            UNION ALL SELECT 'proc:' || p.oid, pg_get_userbyid(p.proowner), false FROM pg_proc p
            UNION ALL SELECT 'op:' || o.oid, pg_get_userbyid(o.oprowner), false FROM pg_operator o
            UNION ALL SELECT 'opf:' || f.oid, pg_get_userbyid(f.opfowner), false FROM pg_opfamily f
            UNION ALL SELECT 'opc:' || c.oid, pg_get_userbyid(c.opcowner), false FROM pg_opclass c
            UNION ALL SELECT 'coll:' || c.oid, pg_get_userbyid(c.collowner), false FROM pg_collation c
            UNION ALL SELECT 'stx:' || s.oid, pg_get_userbyid(s.stxowner), false FROM pg_statistic_ext s
            UNION ALL SELECT 'conv:' || c.oid, pg_get_userbyid(c.conowner), false FROM pg_conversion c
            UNION ALL SELECT 'tsdict:' || d.oid, pg_get_userbyid(d.dictowner), false FROM pg_ts_dict d
            UNION ALL SELECT 'tsconfig:' || c.oid, pg_get_userbyid(c.cfgowner), false FROM pg_ts_config c
            UNION ALL SELECT 'fdw:' || w.oid, pg_get_userbyid(w.fdwowner), false FROM pg_foreign_data_wrapper w
            UNION ALL SELECT 'srv:' || s.oid, pg_get_userbyid(s.srvowner), false FROM pg_foreign_server s
            """, r =>
        {
            if (r.GetBoolean(2) || !Objects.TryGetValue(r.GetString(0), out var o) || o.OwnerKey is not null)
            {
                return;
            }
            var address = o.Kind == ObjectKind.Schema ? $"SCHEMA {Sql.Ident(o.Name)}" : o.AlterTarget ?? addressed.GetValueOrDefault(o.Key);
            if (address is not null)
            {
                Read.Owners.Add(new OwnerStatement(o, r.GetString(1), $"ALTER {address} OWNER TO {Sql.Ident(r.GetString(1))}"));
            }
        }, ct);
    }
}

/// <summary>An object's owner on the source, and the statement that gives it that owner on the target.</summary>
public sealed record OwnerStatement(SchemaObject Object, string Role, string Sql);
