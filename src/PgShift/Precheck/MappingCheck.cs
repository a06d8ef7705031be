using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.mapping: every rename in the task file names a schema on the source, or a selected table or one of its columns
/// that is not excluded; and no two tables (or two columns of a table) end up under one name on the target. A rename
/// that names nothing would otherwise be ignored without a word, and two objects under one name fail the schema phase.
/// </summary>
public sealed class MappingCheck : IPrecheck
{
    private const string Id = "source.mapping";

    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var m = c.Mapping;
        if (m.IsEmpty)
        {
            return [CheckResult.Pass(Id, "Nothing is renamed.")];
        }
        var results = new List<CheckResult>();
        var schemas = (await c.QuerySourceAsync("SELECT nspname FROM pg_namespace", r => r.GetString(0), ct)).ToHashSet(StringComparer.Ordinal);
        foreach (var schema in m.Schemas.Keys.Where(s => !schemas.Contains(s)))
        {
            results.Add(CheckResult.Fail(Id, $"mapping.schemas {Sql.Ident(schema)}: there is no schema {Sql.Ident(schema)} on the source{Near(schemas, schema)}.",
                "Check the name (case-sensitive), or remove it from mapping.schemas in the task file."));
        }
        var tables = c.SourceTables.ToDictionary(t => t.Name);
        var renamed = m.Tables.Keys.Concat(m.Columns.Keys).Distinct().ToList();
        foreach (var table in renamed)
        {
            if (!tables.ContainsKey(table))
            {
                results.Add(CheckResult.Fail(Id, $"mapping: there is no table {table} on the source{Near(tables.Keys.Select(t => t.ToString()), table.ToString())}.",
                    "Write mapping.tables and mapping.columns keys as schema.table[.column], double-quoted where SQL would quote them, or remove the entry."));
            }
            else if (!c.Selected.IncludesTable(table))
            {
                results.Add(CheckResult.Fail(Id, $"mapping: table {table} is not selected, so renaming it changes nothing.", "Select the table, or remove its entry from the mapping."));
            }
        }
        await CheckColumnsAsync(c, tables, results, ct);
        foreach (var clash in c.Tables.GroupBy(t => m.MapTable(t.Name)).Where(g => g.Count() > 1))
        {
            results.Add(CheckResult.Fail(Id, $"mapping: {NameList.Of(clash.Select(t => t.Name.ToString()))} would all become {clash.Key} on the target.",
                "Give each table a name of its own on the target (mapping.tables), or leave one of them out of the selection."));
        }
        return results.Count > 0 ? results
            : [CheckResult.Pass(Id, $"{m.Schemas.Count + m.Tables.Count + m.Columns.Sum(t => t.Value.Count)} renames, each naming a selected object, none giving two objects one name.")];
    }

    /// <summary>Each renamed column exists, is not excluded, and takes a name no other column of its table has on the target.</summary>
    private static async Task CheckColumnsAsync(PrecheckContext c, Dictionary<QualifiedName, TableFacts> tables, List<CheckResult> results, CancellationToken ct)
    {
        var selected = c.Mapping.Columns.Keys.Where(t => tables.ContainsKey(t) && c.Selected.IncludesTable(t)).ToList();
        if (selected.Count == 0)
        {
            return;
        }
        var columns = await ColumnDependents.ColumnsAsync(c.Source, selected.Select(t => tables[t].Oid).ToArray(), ct);
        foreach (var table in selected)
        {
            var own = columns.GetValueOrDefault(tables[table].Oid) ?? [];
            foreach (var column in c.Mapping.Columns[table].Keys)
            {
                if (!own.Contains(column))
                {
                    results.Add(CheckResult.Fail(Id, $"mapping.columns {table}.{Sql.Ident(column)}: table {table} has no column {Sql.Ident(column)} (its columns: {NameList.Of(own.Select(Sql.Ident), 20)}).",
                        "Check the column's name (case-sensitive: double-quote it as in SQL), or remove the entry."));
                }
                else if (c.ExcludedColumns.Excludes(table, column))
                {
                    results.Add(CheckResult.Fail(Id, $"mapping.columns {table}.{Sql.Ident(column)}: the column is excluded, so it has no name on the target.",
                        "Remove the rename or the exclusion."));
                }
            }
            var kept = own.Where(col => !c.ExcludedColumns.Excludes(table, col));
            foreach (var clash in kept.GroupBy(col => c.Mapping.MapColumn(table, col), StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                results.Add(CheckResult.Fail(Id, $"mapping.columns: columns {NameList.Of(clash.Select(Sql.Ident))} of {table} would all become {Sql.Ident(clash.Key)} on the target.",
                    "Give each column a name of its own on the target."));
            }
        }
    }

    private static string Near(IEnumerable<string> names, string name)
        => names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) is { } near ? $" (but {near}, with other case)" : "";
}
