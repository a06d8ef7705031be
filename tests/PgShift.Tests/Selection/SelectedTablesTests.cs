using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Tests.Selection;

public sealed class SelectedTablesTests
{
    // app.events is partitioned by year, its 2024 partition again by month; app.orders is plain.
    private static readonly CatalogRelation[] Relations =
    [
        new(1, new QualifiedName("app", "events"), 'p', 0),
        new(2, new QualifiedName("app", "events_2024"), 'p', 1),
        new(3, new QualifiedName("app", "events_2024_01"), 'r', 2),
        new(4, new QualifiedName("app", "events_2023"), 'r', 1),
        new(5, new QualifiedName("app", "orders"), 'r', 0),
        new(6, new QualifiedName("app", "orders_id_seq"), 'S', 0),
        new(7, new QualifiedName("app", "recent_orders"), 'v', 0),
        new(8, new QualifiedName("other", "notes"), 'r', 0),
        new(9, new QualifiedName("app", "remote"), 'f', 0),
    ];

    private static TableSelection Selection(string[]? includeTables = null, string[]? excludeTables = null, string[]? includeSchemas = null)
    {
        var s = new TableSelection();
        s.IncludeTables.AddRange((includeTables ?? []).Select(p => new NamePattern(p)));
        s.ExcludeTables.AddRange((excludeTables ?? []).Select(p => new NamePattern(p)));
        s.IncludeSchemas.AddRange((includeSchemas ?? []).Select(p => new NamePattern(p)));
        return s;
    }

    private static uint[] Tables(SelectedTables selected) => selected.Tables.Keys.Order().ToArray();

    [Fact]
    public void Selecting_a_partitioned_table_selects_every_partition_whatever_its_name()
    {
        var selected = SelectedTables.From(Relations, Selection(includeTables: ["app.events"]));

        Assert.Equal([1u, 2, 3, 4], Tables(selected));
        Assert.True(selected.IncludesTable(new QualifiedName("app", "events_2024_01")));
    }

    [Fact]
    public void A_partition_is_not_selected_apart_from_its_root()
    {
        var byOwnName = SelectedTables.From(Relations, Selection(includeTables: ["events_2024*"]));
        Assert.Empty(byOwnName.Tables);

        var excludedByOwnName = SelectedTables.From(Relations, Selection(includeTables: ["app.events"], excludeTables: ["app.events_2023"]));
        Assert.Equal([1u, 2, 3, 4], Tables(excludedByOwnName));

        var rootExcluded = SelectedTables.From(Relations, Selection(includeSchemas: ["app"], excludeTables: ["events"]));
        Assert.Equal([5u, 9], Tables(rootExcluded));
    }

    [Fact]
    public void Views_and_sequences_go_with_their_schema_tables_with_the_table_patterns()
    {
        var selected = SelectedTables.From(Relations, Selection(includeTables: ["app.orders"]));

        Assert.Equal([5u], Tables(selected));
        Assert.True(selected.Contains(6));
        Assert.True(selected.Contains(7));
        Assert.False(selected.Contains(8));
        Assert.False(selected.Contains(1));
        Assert.Equal(Relations.Length, selected.AllRelations.Count);
    }

    [Fact]
    public void Among_known_tables_keeps_the_partitioned_tables_above_them()
    {
        var selected = SelectedTables.From(Relations, TableSelection.All);

        var among = selected.Among(new HashSet<string>(StringComparer.Ordinal) { "\"app\".\"events_2024_01\"", "\"app\".\"orders\"" });

        Assert.Equal([1u, 2, 3, 5], among.Keys.Order().ToArray());
    }
}
