using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Comments on the objects read, as statements run once every object exists.</summary>
internal sealed class CommentReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadCommentsAsync(CancellationToken ct)
    {
        await QueryAsync("""
            SELECT d.classoid::regclass::text, d.objoid, d.objsubid, d.description,
                   CASE WHEN d.classoid = 'pg_class'::regclass THEN (SELECT relkind::text FROM pg_class WHERE oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_class'::regclass AND d.objsubid > 0
                        THEN (SELECT attname FROM pg_attribute WHERE attrelid = d.objoid AND attnum = d.objsubid) END,
                   CASE WHEN d.classoid = 'pg_proc'::regclass THEN (SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_type'::regclass THEN (SELECT t.typrelid FROM pg_type t WHERE t.oid = d.objoid) END,
                   CASE WHEN d.classoid = 'pg_constraint'::regclass THEN (SELECT c.conname::text FROM pg_constraint c WHERE c.oid = d.objoid AND c.contype = 'c') END,
                   CASE WHEN d.classoid = 'pg_constraint'::regclass THEN (SELECT CASE WHEN c.contypid <> 0 THEN 'type:' || c.contypid ELSE 'rel:' || c.conrelid END FROM pg_constraint c WHERE c.oid = d.objoid) END,
                   d.classoid = 'pg_constraint'::regclass AND (SELECT NOT c.convalidated FROM pg_constraint c WHERE c.oid = d.objoid)
            FROM pg_description d
            WHERE d.classoid IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass, 'pg_constraint'::regclass, 'pg_cast'::regclass,
                                  'pg_opfamily'::regclass, 'pg_opclass'::regclass, 'pg_collation'::regclass, 'pg_operator'::regclass)
            """, r =>
        {
            var catalog = r.GetString(0);
            var oid = r.GetFieldValue<uint>(1);
            var text = Sql.Literal(r.GetString(3));
            switch (catalog)
            {
                case "pg_namespace" when Objects.TryGetValue($"ns:{oid}", out var ns):
                    ns.Finishing.Add($"COMMENT ON SCHEMA {Sql.Ident(ns.Name)} IS {text}");
                    break;
                case "pg_class" when Objects.TryGetValue($"rel:{oid}", out var rel):
                    var name = Sql.Qualified(rel.Schema, rel.Name);
                    if (r.GetInt32(2) > 0)
                    {
                        if (!r.IsDBNull(5) && !Options.ExcludedColumns.Excludes(new QualifiedName(rel.Schema, rel.Name), r.GetString(5)))
                        {
                            rel.Finishing.Add($"COMMENT ON COLUMN {name}.{Sql.Ident(r.GetString(5))} IS {text}");
                        }
                    }
                    else
                    {
                        var word = rel.Kind switch
                        {
                            ObjectKind.View => "VIEW",
                            ObjectKind.MaterializedView => "MATERIALIZED VIEW",
                            ObjectKind.Sequence => "SEQUENCE",
                            ObjectKind.Type => "TYPE",
                            _ => rel.Display.StartsWith("foreign table", StringComparison.Ordinal) ? "FOREIGN TABLE" : "TABLE",
                        };
                        rel.Finishing.Add($"COMMENT ON {word} {name} IS {text}");
                    }
                    break;
                case "pg_type" when !r.IsDBNull(7) && r.GetFieldValue<uint>(7) != 0 && Objects.TryGetValue($"rel:{r.GetFieldValue<uint>(7)}", out var composite):
                    composite.Finishing.Add($"COMMENT ON TYPE {Sql.Qualified(composite.Schema, composite.Name)} IS {text}");
                    break;
                case "pg_constraint" when !r.IsDBNull(8) && Objects.TryGetValue(r.GetString(9), out var owner):
                    // CHECK constraints are created with their table or domain; keys and foreign keys get theirs after the
                    // data, and so do NOT VALID checks: a table's with its post-data statement, a domain's after it here.
                    var domain = owner.Kind == ObjectKind.Type;
                    var comment = $"COMMENT ON CONSTRAINT {Sql.Ident(r.GetString(8))} ON {(domain ? "DOMAIN " : "")}{Sql.Qualified(owner.Schema, owner.Name)} IS {text}";
                    if (!r.GetBoolean(10))
                    {
                        owner.Finishing.Add(comment);
                    }
                    else if (domain)
                    {
                        owner.AfterData.Add((PostDataKind.Other, r.GetString(8), comment));
                    }
                    break;
                case "pg_type" when Objects.TryGetValue($"type:{oid}", out var type):
                    type.Finishing.Add($"COMMENT ON {(type.Display.StartsWith("domain", StringComparison.Ordinal) ? "DOMAIN" : "TYPE")} {Sql.Qualified(type.Schema, type.Name)} IS {text}");
                    break;
                case "pg_cast" when Objects.TryGetValue($"cast:{oid}", out var cast):
                    cast.Finishing.Add($"COMMENT ON CAST {cast.Name} IS {text}");
                    break;
                case "pg_proc" when Objects.TryGetValue($"proc:{oid}", out var proc) && !r.IsDBNull(6):
                    var target = proc.Kind == ObjectKind.Aggregate ? proc.AlterTarget
                        : $"{(proc.Display.StartsWith("procedure", StringComparison.Ordinal) ? "PROCEDURE" : "FUNCTION")} {r.GetString(6)}";
                    proc.Finishing.Add($"COMMENT ON {target} IS {text}");
                    break;
                // Objects named by what follows ALTER: the comment takes the same words.
                case "pg_opfamily" or "pg_opclass" or "pg_collation" or "pg_operator"
                    when Objects.TryGetValue($"{AddressedPrefix(catalog)}:{oid}", out var addressed):
                    addressed.Finishing.Add($"COMMENT ON {addressed.AlterTarget} IS {text}");
                    break;
            }
        }, ct);
    }

    private static string AddressedPrefix(string catalog) => catalog switch
    {
        "pg_opfamily" => "opf",
        "pg_opclass" => "opc",
        "pg_collation" => "coll",
        _ => "op",
    };
}
