using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Transforms and conversions not created by an extension, as pg_dump's dumpTransform and dumpConversion write them.
/// Their functions are named as the source has them: built-in ones exist on the target; a user one that cannot be
/// created (written in C) leaves the object out with it.
/// </summary>
internal sealed class TransformReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : AddressedObjectReader(conn, options, read)
{
    public async Task ReadAsync(CancellationToken ct)
    {
        await ReadTransformsAsync(ct);
        await ReadConversionsAsync(ct);
    }

    private async Task ReadTransformsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT t.oid, format_type(t.trftype, NULL), l.lanname, l.oid, t.trftype, tn.nspname,
                   CASE WHEN t.trffromsql <> 0 THEN t.trffromsql::regprocedure::text END,
                   CASE WHEN t.trftosql <> 0 THEN t.trftosql::regprocedure::text END
            FROM pg_transform t JOIN pg_language l ON l.oid = t.trflang
            JOIN pg_type ty ON ty.oid = t.trftype JOIN pg_namespace tn ON tn.oid = ty.typnamespace
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (FromExtension(oid))
            {
                return;
            }
            var language = Sql.Ident(r.GetString(2));
            var o = AddAddressed("pg_transform", oid, "trf", ObjectKind.Transform, "", $"{r.GetString(1)} {r.GetString(2)}",
                $"TRANSFORM FOR {r.GetString(1)} LANGUAGE {language}");
            var (languageOid, typeOid) = (r.GetFieldValue<uint>(3), r.GetFieldValue<uint>(4));
            if (languageOid >= 16384 && !FromExtension(languageOid))
            {
                Skip(o, $"its language {language} is not created by an extension, and is not migrated");
                return;
            }
            if (typeOid >= 16384 && !Migrates(typeOid, r.GetString(5)) && !FromExtension(typeOid))
            {
                Skip(o, $"its type {r.GetString(1)} is not selected");
                return;
            }
            var ways = new List<string>();
            if (!r.IsDBNull(6)) ways.Add($"FROM SQL WITH FUNCTION {r.GetString(6)}");
            if (!r.IsDBNull(7)) ways.Add($"TO SQL WITH FUNCTION {r.GetString(7)}");
            o.Statements.Add($"CREATE TRANSFORM FOR {r.GetString(1)} LANGUAGE {language} ({string.Join(", ", ways)})");
        }, ct);
    }

    private async Task ReadConversionsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.conname, pg_encoding_to_char(c.conforencoding), pg_encoding_to_char(c.contoencoding),
                   c.conproc::regproc::text, c.condefault
            FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = AddAddressed("pg_conversion", oid, "conv", ObjectKind.Conversion, r.GetString(1), r.GetString(2), $"CONVERSION {name}");
            o.Statements.Add($"CREATE {(r.GetBoolean(6) ? "DEFAULT " : "")}CONVERSION {name} FOR {Sql.Literal(r.GetString(3))} TO {Sql.Literal(r.GetString(4))} FROM {r.GetString(5)}");
        }, ct);
    }
}
