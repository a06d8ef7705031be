using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Precheck;

/// <summary>
/// source.selection: every include and exclude pattern matches something on the source. A pattern that matches nothing is
/// almost always a typo (or an unquoted mixed-case name), and would otherwise move data the user meant to leave out.
/// </summary>
public sealed class SelectionCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var schemas = (await c.QuerySourceAsync("SELECT nspname FROM pg_namespace ORDER BY nspname", r => r.GetString(0), ct))
            .Where(s => !TableSelection.IsSystemSchema(s)).ToList();
        // Included tables must be in the selected schemas to be migrated; an excluded one may be anywhere.
        var inSelectedSchemas = c.SourceTables.Where(t => c.Selection.IncludesSchema(t.Name.Schema)).Select(t => t.Name).ToList();
        var allTables = c.SourceTables.Select(t => t.Name).ToList();
        var results = new List<CheckResult>();
        var count = 0;
        foreach (var (pattern, option) in c.Selection.Patterns)
        {
            count++;
            var isSchema = option.EndsWith("-schema", StringComparison.Ordinal);
            if (isSchema)
            {
                if (!schemas.Any(pattern.IsMatch))
                {
                    results.Add(Unmatched(pattern, option, "no schema on the source", schemas.Where(pattern.IsMatchIgnoringCase).Select(Sql.Ident)));
                }
                continue;
            }
            var candidates = option == "--include-table" ? inSelectedSchemas : allTables;
            if (!candidates.Any(pattern.IsMatch))
            {
                var where = option == "--include-table" && (c.Selection.IncludeSchemas.Count > 0 || c.Selection.ExcludeSchemas.Count > 0)
                    ? "no table in the selected schemas" : "no table on the source";
                results.Add(Unmatched(pattern, option, where, candidates.Where(pattern.IsMatchIgnoringCase).Select(t => t.ToString())));
            }
        }
        if (results.Count == 0)
        {
            results.Add(CheckResult.Pass("source.selection", count == 0 ? "No include or exclude pattern given: every table is selected." : $"All {count} include/exclude patterns match."));
        }
        return results;
    }

    private static CheckResult Unmatched(NamePattern pattern, string option, string what, IEnumerable<string> sameButForCase)
    {
        var near = sameButForCase.Take(5).ToList();
        var fileKey = option.TrimStart('-').Replace('-', '_') + "s";
        var fix = near.Count > 0
            ? $"Names are case-sensitive: {option} with the name double-quoted as in SQL, e.g. {near[0]} (written '{near[0]}' in the shell)."
            : $"Check the spelling (names are case-sensitive; double-quote mixed-case names as in SQL: '\"MyTable\"'), or remove the pattern from {option} ({fileKey} in the task file).";
        return CheckResult.Fail("source.selection",
            $"{option} '{pattern}' matches {what}{(near.Count > 0 ? $" (but {NameList.Of(near)} would, ignoring case)" : "")}, so it would change nothing.", fix);
    }
}
