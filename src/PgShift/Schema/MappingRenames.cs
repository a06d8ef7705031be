using Npgsql;
using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// The name mapping, applied in the pre-data transaction: objects are created under their source names, then tables,
/// columns and schemas are renamed or moved, so that everything PostgreSQL tracks by oid (views, defaults, constraints) follows.
/// </summary>
internal static class MappingRenames
{
    /// <summary>Renames on the target, after creating under source names, so that what PostgreSQL tracks by oid follows.</summary>
    public static async Task ApplyAsync(NpgsqlConnection target, NpgsqlTransaction tx, SchemaMigrationOptions options,
        List<SchemaObject> objects, HashSet<string> schemasBefore, SchemaReport report, CancellationToken ct)
    {
        var mapping = options.Mapping;
        if (mapping.IsEmpty)
        {
            return;
        }
        var tables = objects.Where(o => o.Kind == ObjectKind.Table).ToList();
        var renamedWords = new List<string>();
        foreach (var t in tables)
        {
            var name = new QualifiedName(t.Schema, t.Name);
            if (mapping.Columns.TryGetValue(name, out var cols))
            {
                foreach (var (from, to) in cols)
                {
                    await SchemaMigrator.RunAsync(target, tx, t.Display, $"ALTER TABLE {name} RENAME COLUMN {Sql.Ident(from)} TO {Sql.Ident(to)}", ct);
                    renamedWords.Add(from);
                }
            }
            if (mapping.Tables.TryGetValue(name, out var newName))
            {
                await SchemaMigrator.RunAsync(target, tx, t.Display, $"ALTER TABLE {name} RENAME TO {Sql.Ident(newName)}", ct);
                renamedWords.Add(t.Name);
            }
        }
        foreach (var (from, to) in mapping.Schemas)
        {
            if (await MoveSchemaAsync(target, tx, mapping, from, to, objects, schemasBefore, ct))
            {
                renamedWords.Add(from);
            }
        }
        foreach (var f in objects.Where(o => o.Kind == ObjectKind.Function && o.Statements.Count > 0))
        {
            var hit = renamedWords.FirstOrDefault(w => f.Statements[0].Contains(w, StringComparison.Ordinal));
            if (hit is not null)
            {
                report.Warnings.Add($"{f.Display} mentions the renamed name {hit} in its body; its text is not rewritten: check it on the target.");
            }
        }
    }

    /// <summary>Moves what the task created in schema <paramref name="from"/> to <paramref name="to"/>; false when there was nothing to move.</summary>
    private static async Task<bool> MoveSchemaAsync(NpgsqlConnection target, NpgsqlTransaction tx, NameMapping mapping, string from, string to,
        List<SchemaObject> objects, HashSet<string> schemasBefore, CancellationToken ct)
    {
        var moving = objects.Where(o => o.Schema == from && o.AlterTarget is not null && o.Kind != ObjectKind.Extension).ToList();
        if (moving.Count == 0 && !objects.Any(o => o.Kind == ObjectKind.Schema && o.Name == from))
        {
            return false;
        }
        var sharedTarget = mapping.Schemas.Count(m => m.Value == to) > 1;
        if (!schemasBefore.Contains(from) && !schemasBefore.Contains(to) && !sharedTarget)
        {
            // The schema is PgShift's own on this target: renaming it moves everything in it at once.
            await SchemaMigrator.RunAsync(target, tx, $"schema {Sql.Ident(from)}", $"ALTER SCHEMA {Sql.Ident(from)} RENAME TO {Sql.Ident(to)}", ct);
            return true;
        }
        // The target already has one of the two schemas: move the objects one by one.
        await SchemaMigrator.RunAsync(target, tx, $"schema {Sql.Ident(to)}", $"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(to)}", ct);
        foreach (var o in moving)
        {
            var alter = o.AlterTarget!;
            if (o.Kind == ObjectKind.Table && mapping.Tables.TryGetValue(new QualifiedName(o.Schema, o.Name), out var newName))
            {
                alter = $"TABLE {Sql.Qualified(o.Schema, newName)}";
            }
            await SchemaMigrator.RunAsync(target, tx, o.Display, $"ALTER {alter} SET SCHEMA {Sql.Ident(to)}", ct);
        }
        // A range type's multirange (PostgreSQL 14+) does not move with it.
        await using (var cmd = new NpgsqlCommand("""
            SELECT format('ALTER TYPE %I.%I SET SCHEMA %I', n.nspname, t.typname, @to)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = @from AND t.typtype = 'm'
            """, target, tx))
        {
            cmd.Parameters.AddWithValue("from", from);
            cmd.Parameters.AddWithValue("to", to);
            var moves = new List<string>();
            if (target.PostgreSqlVersion.Major >= 14)
            {
                await using var rd = await cmd.ExecuteReaderAsync(ct);
                while (await rd.ReadAsync(ct))
                {
                    moves.Add(rd.GetString(0));
                }
            }
            foreach (var move in moves)
            {
                await SchemaMigrator.RunAsync(target, tx, $"schema {Sql.Ident(from)}", move, ct);
            }
        }
        if (!schemasBefore.Contains(from))
        {
            await SchemaMigrator.RunAsync(target, tx, $"schema {Sql.Ident(from)}", $"DROP SCHEMA {Sql.Ident(from)}", ct);
        }
        return true;
    }
}
