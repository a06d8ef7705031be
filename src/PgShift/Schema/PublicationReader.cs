using System.Text.Json;
using Npgsql;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Schema;

/// <summary>
/// The source's publications (not PgShift's own, <c>pgshift_&lt;task&gt;</c>), with the selected tables they publish
/// (column lists and row filters, PostgreSQL 15+) and the selected schemas (FOR TABLES IN SCHEMA, 15+). Created at the
/// end of the pre-data under source names, so renames follow them. What the target's version cannot say (a row
/// filter, a column list or a schema for a target before 15) is reported skipped rather than published differently;
/// a publication the target user may not create (FOR ALL TABLES needs a superuser) is a warning.
/// </summary>
internal sealed class PublicationReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    private sealed record Publication(uint Oid, string Name, JsonElement Row, string Owner)
    {
        public List<(uint Table, string? Filter, string[]? Columns, string[] FilterColumns)> Tables { get; } = new();
        public List<string> Schemas { get; } = new();
        public string Display => $"publication {Sql.Ident(Name)}";
        public bool Flag(string column) => Row.TryGetProperty(column, out var v) && v.ValueKind == JsonValueKind.True;
    }

    public async Task ReadPublicationsAsync(CancellationToken ct)
    {
        var publications = new Dictionary<uint, Publication>();
        await QueryAsync("SELECT p.oid, p.pubname, to_jsonb(p)::text, pg_get_userbyid(p.pubowner) FROM pg_publication p ORDER BY p.pubname", r =>
        {
            var name = r.GetString(1);
            if (!name.StartsWith(TaskName.Prefix, StringComparison.Ordinal))
            {
                publications[r.GetFieldValue<uint>(0)] = new Publication(r.GetFieldValue<uint>(0), name, JsonDocument.Parse(r.GetString(2)).RootElement.Clone(), r.GetString(3));
            }
        }, ct);
        var tables = SourceMajor >= 15
            ? """
              SELECT pr.prpubid, pr.prrelid, pg_get_expr(pr.prqual, pr.prrelid),
                     CASE WHEN pr.prattrs IS NOT NULL THEN ARRAY(SELECT a.attname::text FROM unnest(pr.prattrs::int2[]) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = u.n ORDER BY u.i) END,
                     ARRAY(SELECT a.attname::text FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                           WHERE d.classid = 'pg_publication_rel'::regclass AND d.objid = pr.oid AND d.deptype = 'n' AND d.refobjsubid > 0)
              FROM pg_publication_rel pr ORDER BY pr.prpubid, pr.prrelid::regclass::text
              """
            : "SELECT prpubid, prrelid, NULL::text, NULL::text[], ARRAY[]::text[] FROM pg_publication_rel ORDER BY prpubid, prrelid::regclass::text";
        await QueryAsync(tables, r =>
        {
            if (publications.TryGetValue(r.GetFieldValue<uint>(0), out var p))
            {
                p.Tables.Add((r.GetFieldValue<uint>(1), r.IsDBNull(2) ? null : r.GetString(2), r.IsDBNull(3) ? null : r.GetFieldValue<string[]>(3), r.GetFieldValue<string[]>(4)));
            }
        }, ct);
        if (SourceMajor >= 15)
        {
            await QueryAsync("""
                SELECT pn.pnpubid, n.nspname FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid ORDER BY 1, 2
                """, r =>
            {
                if (publications.TryGetValue(r.GetFieldValue<uint>(0), out var p) && SchemaSelected(r.GetString(1)))
                {
                    p.Schemas.Add(r.GetString(1));
                }
            }, ct);
        }
        foreach (var p in publications.Values)
        {
            if (p.Flag("pubviaroot") && Options.TargetMajor < 13)
            {
                Skip(p.Display, p.Oid, $"PostgreSQL {Options.TargetMajor} cannot publish through the partition root (13+)");
                continue;
            }
            var statements = new List<string> { Create(p) };
            statements.AddRange(p.Tables.Select(t => AddTable(p, t)).OfType<string>());
            foreach (var schema in p.Schemas)
            {
                if (Options.TargetMajor < 15)
                {
                    Skip($"schema {Sql.Ident(schema)} of {p.Display}", p.Oid, $"PostgreSQL {Options.TargetMajor} cannot publish the tables of a schema (15+)");
                    continue;
                }
                statements.Add($"ALTER PUBLICATION {Sql.Ident(p.Name)} ADD TABLES IN SCHEMA {Sql.Ident(schema)}");
            }
            Read.RoleStatements.Add(new RoleStatement(null, p.Display, [], _ => statements));
            // Its owner apart: a role the target lacks, or one that may not own it (FOR ALL TABLES needs a superuser), leaves the publication as it is.
            if (Options.Owners)
            {
                Read.RoleStatements.Add(new RoleStatement(null, $"the owner of {p.Display}", [p.Owner],
                    present => present.Count == 0 ? [] : [$"ALTER PUBLICATION {Sql.Ident(p.Name)} OWNER TO {Sql.Ident(p.Owner)}"]));
            }
        }
    }

    private static string Create(Publication p)
    {
        var publish = new[] { "insert", "update", "delete", "truncate" }.Where(op => p.Flag($"pub{op}"));
        var with = $"publish = {Sql.Literal(string.Join(", ", publish))}{(p.Flag("pubviaroot") ? ", publish_via_partition_root = true" : "")}";
        return $"CREATE PUBLICATION {Sql.Ident(p.Name)}{(p.Flag("puballtables") ? " FOR ALL TABLES" : "")} WITH ({with})";
    }

    /// <summary>ALTER PUBLICATION ... ADD TABLE for a table migrated; null when it is not, or when the target cannot say its column list or row filter.</summary>
    private string? AddTable(Publication p, (uint Table, string? Filter, string[]? Columns, string[] FilterColumns) t)
    {
        if (!Objects.TryGetValue($"rel:{t.Table}", out var table) || table.SkipReason is not null)
        {
            return null;
        }
        var name = new QualifiedName(table.Schema, table.Name);
        var what = $"{table.Display} in {p.Display}";
        if ((t.Filter is not null || t.Columns is not null) && Options.TargetMajor < 15)
        {
            Skip(what, p.Oid, $"PostgreSQL {Options.TargetMajor} has no {(t.Filter is not null ? "row filter" : "column list")} in a publication (15+)");
            return null;
        }
        if (t.Filter is not null && t.FilterColumns.FirstOrDefault(c => Options.ExcludedColumns.Excludes(name, c) && FilterUses(t.Filter, t.Columns, c)) is { } filtered)
        {
            Skip(what, p.Oid, $"its row filter uses column {Sql.Ident(filtered)}, which is excluded");
            return null;
        }
        var columns = t.Columns?.Where(c => !Options.ExcludedColumns.Excludes(name, c)).ToList();
        if (columns is { Count: 0 })
        {
            Skip(what, p.Oid, "every column of its column list is excluded");
            return null;
        }
        var list = columns is null ? "" : $" ({string.Join(", ", columns.Select(Sql.Ident))})";
        var where = t.Filter is null ? "" : $" WHERE ({t.Filter})";
        return $"ALTER PUBLICATION {Sql.Ident(p.Name)} ADD TABLE ONLY {name}{list}{where}";
    }

    /// <summary>
    /// Whether the row filter uses a column the table's entry depends on: pg_depend does not tell the filter's columns from the
    /// column list's, so a column in both is looked for in the filter's text (as written plain or quoted).
    /// </summary>
    private static bool FilterUses(string filter, string[]? columnList, string column)
        => columnList is null || !columnList.Contains(column)
            || new[] { column, Sql.Ident(column) }.Any(spelling => System.Text.RegularExpressions.Regex.IsMatch(filter,
                $"(?<![\\w$\"]){System.Text.RegularExpressions.Regex.Escape(spelling)}(?![\\w$\"])"));

    private void Skip(string display, uint oid, string reason)
        => Read.Skipped.Add(new SchemaObject($"pub:{oid}:{Read.Skipped.Count}", ObjectKind.Publication, "", display, display) { SkipReason = reason });
}
