using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Comments on the objects registered in <see cref="SourceObjects.Addressed"/>, as statements run once every object exists.</summary>
internal sealed class AddressedCommentReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadCommentsAsync(CancellationToken ct)
    {
        if (Read.Addressed.Count == 0)
        {
            return;
        }
        await QueryAsync("""
            SELECT d.classoid::regclass::text, d.objoid, d.description FROM pg_description d
            WHERE d.objsubid = 0 AND d.objoid >= 16384
              AND d.classoid IN ('pg_ts_parser'::regclass, 'pg_ts_template'::regclass, 'pg_ts_dict'::regclass, 'pg_ts_config'::regclass,
                                 'pg_am'::regclass, 'pg_foreign_data_wrapper'::regclass, 'pg_foreign_server'::regclass,
                                 'pg_transform'::regclass, 'pg_conversion'::regclass)
            """, r =>
        {
            if (Read.Addressed.TryGetValue((r.GetString(0), r.GetFieldValue<uint>(1)), out var a) && Objects.TryGetValue(a.Key, out var o))
            {
                o.Finishing.Add($"COMMENT ON {a.Address} IS {Sql.Literal(r.GetString(2))}");
            }
        }, ct);
    }
}
