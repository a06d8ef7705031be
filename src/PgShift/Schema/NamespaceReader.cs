using System.Text.Json;
using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Schemas, extensions (and which objects each extension creates), collations.</summary>
internal sealed class NamespaceReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    /// <summary>User schemas, but not those an extension's script creates (CREATE EXTENSION would then find them taken).</summary>
    public async Task ReadSchemasAsync(CancellationToken ct)
    {
        await QueryAsync($"SELECT n.oid, n.nspname FROM pg_namespace n WHERE {UserSchemas}", r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var name = r.GetString(1);
            if (Migrates(oid, name))
            {
                var o = Add($"ns:{oid}", ObjectKind.Schema, name, name, $"schema {Sql.Ident(name)}");
                o.Statements.Add($"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(name)}");
            }
        }, ct);
    }

    public async Task ReadExtensionsAsync(CancellationToken ct)
    {
        // As pg_dump: no version (the target's default), and the source's schema unless the control file fixes one and
        // the extension cannot move (then CREATE EXTENSION creates that schema itself).
        await QueryAsync("""
            SELECT e.oid, e.extname, n.nspname,
                   NOT e.extrelocatable AND EXISTS (SELECT 1 FROM pg_available_extension_versions v
                                                     WHERE v.name = e.extname AND v.version = e.extversion AND v.schema IS NOT NULL)
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname <> 'plpgsql'
            """, r =>
        {
            var name = r.GetString(1);
            var schema = r.GetString(2);
            var o = Add($"ext:{r.GetFieldValue<uint>(0)}", ObjectKind.Extension, schema, name, $"extension {name}");
            if (r.GetBoolean(3))
            {
                o.Statements.Add($"CREATE EXTENSION IF NOT EXISTS {Sql.Ident(name)}");
                return;
            }
            o.Statements.Add($"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(schema)}");
            o.Statements.Add($"CREATE EXTENSION IF NOT EXISTS {Sql.Ident(name)} WITH SCHEMA {Sql.Ident(schema)}");
        }, ct);
        // Objects that belong to an extension are created by it: map them to the extension. A composite type's relation
        // (geometry_dump's) is the type's: pg_depend records the type as the member, not its pg_class row.
        await QueryAsync("""
            SELECT d.objid, d.refobjid FROM pg_depend d WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass
            UNION ALL
            SELECT t.typrelid, d.refobjid FROM pg_depend d JOIN pg_type t ON t.oid = d.objid
             WHERE d.deptype = 'e' AND d.refclassid = 'pg_extension'::regclass AND d.classid = 'pg_type'::regclass AND t.typrelid <> 0
            """, r => Read.ExtensionOfObject[r.GetFieldValue<uint>(0)] = $"ext:{r.GetFieldValue<uint>(1)}", ct);
    }

    public async Task ReadCollationsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.collname, to_jsonb(c)::text
            FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            using var json = JsonDocument.Parse(r.GetString(3));
            var definition = CollationDefinition.For(json.RootElement, TargetMajor);
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = Add($"coll:{oid}", ObjectKind.Collation, r.GetString(1), r.GetString(2), $"collation {name}");
            o.AlterTarget = $"COLLATION {name}";
            if (definition.SkipReason is not null)
            {
                o.SkipReason = definition.SkipReason;
                Read.Skipped.Add(o);
                return;
            }
            o.Statements.Add($"CREATE COLLATION {name} ({definition.Options})");
        }, ct);
    }
}
