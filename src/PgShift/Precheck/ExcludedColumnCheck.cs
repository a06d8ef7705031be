using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>
/// source.excluded_columns: every excluded column exists in a selected table, and nothing that is migrated needs it (a key
/// or replica identity index, a generated column, a view, a constraint, an index...). Refused here, before anything is
/// created, rather than when the target fails to build what needs it after the copy.
/// </summary>
public sealed class ExcludedColumnCheck : IPrecheck
{
    private const string Id = "source.excluded_columns";
    private const string RemoveIt = "remove it from --exclude-column, or from exclude_columns in the task file";

    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (c.ExcludedColumns.IsEmpty)
        {
            return [CheckResult.Pass(Id, "No column is excluded.")];
        }
        var results = new List<CheckResult>();
        var tables = c.SourceTables.ToDictionary(t => t.Name);
        var present = new List<(TableFacts Table, string Column)>();
        foreach (var (table, column) in c.ExcludedColumns.All)
        {
            var shown = $"{table}.{Sql.Ident(column)}";
            if (!tables.TryGetValue(table, out var facts))
            {
                var near = tables.Keys.Where(t => string.Equals(t.Schema, table.Schema, StringComparison.OrdinalIgnoreCase)
                    && string.Equals(t.Name, table.Name, StringComparison.OrdinalIgnoreCase)).Select(t => t.ToString()).ToList();
                results.Add(CheckResult.Fail(Id, $"--exclude-column {shown}: there is no table {table} on the source{(near.Count > 0 ? $" (but {NameList.Of(near)}, with other case)" : "")}.",
                    $"Check the schema and table names (case-sensitive: double-quote them as in SQL, e.g. public.\"Users\".ssn), or {RemoveIt}."));
            }
            else if (!c.Selected.IncludesTable(table))
            {
                results.Add(CheckResult.Fail(Id, $"--exclude-column {shown}: table {table} is not selected, so leaving out its column changes nothing.",
                    $"Select the table, or {RemoveIt}."));
            }
            else
            {
                present.Add((facts, column));
            }
        }
        if (present.Count > 0)
        {
            var oids = present.Select(p => p.Table.Oid).Distinct().ToArray();
            var columns = await ColumnDependents.ColumnsAsync(c.Source, oids, ct);
            var dependents = (await ColumnDependents.LoadAsync(c.Source, oids, ct)).ToLookup(d => (d.TableOid, d.ColumnName));
            foreach (var (table, column) in present)
            {
                var shown = $"{table.Name}.{Sql.Ident(column)}";
                var own = columns.GetValueOrDefault(table.Oid) ?? [];
                if (!own.Contains(column))
                {
                    var near = own.Where(o => string.Equals(o, column, StringComparison.OrdinalIgnoreCase)).ToList();
                    results.Add(CheckResult.Fail(Id, $"--exclude-column {shown}: table {table.Name} has no column {Sql.Ident(column)} (its columns: {NameList.Of(own.Select(Sql.Ident), 20)}).",
                        near.Count > 0
                            ? $"Names are case-sensitive: write {table.Name}.{Sql.Ident(near[0])} (double-quoted as in SQL)."
                            : $"Check the column's name, or {RemoveIt}."));
                    continue;
                }
                var needs = dependents[(table.Oid, column)].Where(d => IsMigrated(d, table, c)).DistinctBy(d => (d.Kind, d.Name, d.Owner)).ToList();
                if (needs.Count > 0)
                {
                    results.Add(CheckResult.Fail(Id, $"Column {Sql.Ident(column)} of {table.Name} cannot be left out: {string.Join("; ", needs.Select(d => Describe(d, table.Name)))}.",
                        FixFor(needs, table.Name, shown)));
                }
            }
        }
        if (results.Count == 0)
        {
            results.Add(CheckResult.Pass(Id, $"{present.Count} excluded columns exist in selected tables, and nothing that is migrated needs them."));
        }
        return results;
    }

    /// <summary>Whether the dependent moves to the target with the task (so it would need the column there).</summary>
    private static bool IsMigrated(ColumnDependent d, TableFacts table, PrecheckContext c)
    {
        if (d.Kind == "generated column" && c.ExcludedColumns.Excludes(table.Name, d.Name))
        {
            return false;
        }
        return d.OwnerKind is 'r' or 'p' ? c.Selected.IncludesTable(d.Owner) : c.Selection.IncludesSchema(d.Owner.Schema);
    }

    private static string Describe(ColumnDependent d, QualifiedName table)
    {
        var name = Sql.Ident(d.Name);
        var elsewhere = d.Owner != table ? $" of {d.Owner}" : "";
        return d.Kind switch
        {
            "primary key" => $"it is in the primary key {name}",
            "index" or "unique constraint" when d.IsReplicaIdentity => $"it is in {name}, the {d.Kind} used as the table's replica identity",
            "generated column" => $"the generated column {name} is computed from it",
            "view" or "materialized view" => $"the {d.Kind} {d.Owner} reads it",
            "foreign key" => $"the foreign key {name}{elsewhere} {(d.Owner != table ? "references" : "uses")} it",
            "sequence" => $"the sequence {d.Owner} is owned by it (a serial column)",
            _ => $"the {d.Kind} {name}{elsewhere} uses it",
        };
    }

    private static string FixFor(List<ColumnDependent> needs, QualifiedName table, string shown)
    {
        if (needs.Any(d => d.Kind == "primary key" || d.IsReplicaIdentity))
        {
            return $"A key column cannot be left out: the copy, the change stream and verify identify rows by it. Keep {shown}: {RemoveIt}.";
        }
        var ways = new List<string>();
        var fixedOnes = new List<string>();
        foreach (var d in needs)
        {
            var way = d.Kind switch
            {
                "generated column" => $"--exclude-column {table}.{Sql.Ident(d.Name)} as well",
                "view" or "materialized view" or "rule" => $"--exclude-schema {Sql.Ident(d.Owner.Schema)} for the {d.Kind} {d.Owner} (views move with their schema)",
                _ when d.Owner != table && d.OwnerKind is 'r' or 'p' => $"--exclude-table {d.Owner} for its {d.Kind}",
                _ => null,
            };
            if (way is null)
            {
                fixedOnes.Add($"{d.Kind} {Sql.Ident(d.Name)}");
            }
            else
            {
                ways.Add(way);
            }
        }
        var builtAsOnSource = fixedOnes.Count > 0
            ? $"PgShift builds the {NameList.Of(fixedOnes.Distinct())} on the target as on the source, and {(fixedOnes.Count == 1 ? "it needs" : "they need")} the column."
            : "";
        return ways.Count == 0 || fixedOnes.Count > 0
            ? $"Keep {shown}: {RemoveIt}. {builtAsOnSource}".TrimEnd()
            : $"Keep {shown} ({RemoveIt}), or leave out what needs it too: {string.Join("; ", ways.Distinct())}.";
    }
}
