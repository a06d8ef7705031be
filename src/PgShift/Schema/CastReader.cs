using Npgsql;

namespace PgShift.Schema;

/// <summary>
/// Casts created by users (pg_cast rows after initdb), as pg_dump writes them (dumpCast). Not those an extension
/// creates, nor a range type's casts to its multirange, which the range type creates by itself.
/// </summary>
internal sealed class CastReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    private const uint FirstNormalObjectId = 16384;

    public async Task ReadCastsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT c.oid, format_type(c.castsource, NULL), format_type(c.casttarget, NULL),
                   CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END, c.castcontext::text, c.castmethod::text,
                   c.castsource, st.typnamespace::regnamespace::text, c.casttarget, tt.typnamespace::regnamespace::text,
                   c.castfunc, (SELECT p.pronamespace::regnamespace::text FROM pg_proc p WHERE p.oid = c.castfunc)
            FROM pg_cast c JOIN pg_type st ON st.oid = c.castsource JOIN pg_type tt ON tt.oid = c.casttarget
            WHERE c.oid >= 16384
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'i'))
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            // A cast has no schema: it moves when the user objects it names (types, function) move.
            if (FromExtension(oid) || !Moves(r.GetFieldValue<uint>(6), r.GetString(7)) || !Moves(r.GetFieldValue<uint>(8), r.GetString(9))
                || !r.IsDBNull(11) && !Moves(r.GetFieldValue<uint>(10), r.GetString(11)))
            {
                return;
            }
            var name = $"({r.GetString(1)} AS {r.GetString(2)})";
            var o = Add($"cast:{oid}", ObjectKind.Cast, "", name, $"cast {name}");
            var method = r.GetString(5) switch
            {
                "b" => "WITHOUT FUNCTION",
                "i" => "WITH INOUT",
                _ => $"WITH FUNCTION {r.GetString(3)}",
            };
            var context = r.GetString(4) switch { "a" => " AS ASSIGNMENT", "i" => " AS IMPLICIT", _ => "" };
            o.Statements.Add($"CREATE CAST {name} {method}{context}");
        }, ct);
    }

    /// <summary>A type or function a cast names is on the target when it is built in, an extension's, or in a selected schema.</summary>
    private bool Moves(uint oid, string schema) => oid < FirstNormalObjectId || FromExtension(oid) || SchemaSelected(schema);
}
