using PgShift.Catalog;
using PgShift.Selection;

namespace PgShift.Tests.Selection;

public sealed class NamePatternTests
{
    [Theory]
    [InlineData("orders", "public", "orders", true)]
    [InlineData("orders", "public", "Orders", false)]
    [InlineData("public.orders", "public", "orders", true)]
    [InlineData("public.orders", "sales", "orders", false)]
    [InlineData("sales_*.t?", "sales_2024", "t1", true)]
    [InlineData("sales_*.t?", "sales_2024", "t12", false)]
    [InlineData("\"we\"\"ird\"", "public", "we\"ird", true)]
    [InlineData("\"My Schema\".\"T.1\"", "My Schema", "T.1", true)]
    [InlineData("\"My Schema\".\"T.1\"", "My Schema", "T", false)]
    [InlineData("\"Orders\"", "public", "Orders", true)]
    [InlineData("\"a*\"", "public", "a*", true)]
    [InlineData("\"a*\"", "public", "ab", false)]
    [InlineData("\"sales\"_*.*", "sales_eu", "x", true)]
    [InlineData("Sales Dept.Order", "Sales Dept", "Order", true)]
    [InlineData("select.order", "select", "order", true)]
    public void Table_patterns_match_names_quoted_as_in_sql_and_globs_unquoted(string pattern, string schema, string table, bool matches)
    {
        Assert.Equal(matches, new NamePattern(pattern).IsMatch(new QualifiedName(schema, table)));
    }

    [Theory]
    [InlineData("app", "app", true)]
    [InlineData("app*", "app_v2", true)]
    [InlineData("\"My.Schema\"", "My.Schema", true)]
    [InlineData("\"App\"", "app", false)]
    public void Schema_patterns_are_one_name(string pattern, string schema, bool matches)
    {
        var p = new NamePattern(pattern);
        Assert.Equal(1, p.PartCount);
        Assert.Equal(matches, p.IsMatch(schema));
    }

    [Fact]
    public void Case_insensitive_match_finds_what_an_unquoted_mixed_case_name_meant()
    {
        var p = new NamePattern("public.orders");
        Assert.False(p.IsMatch(new QualifiedName("public", "Orders")));
        Assert.True(p.IsMatchIgnoringCase(new QualifiedName("public", "Orders")));
    }

    [Theory]
    [InlineData("\"unclosed", "not closed")]
    [InlineData("public.", "empty name")]
    [InlineData(".t", "empty name")]
    [InlineData("a..b", "empty name")]
    [InlineData("\"\"", "empty name")]
    [InlineData("", "empty name")]
    public void Malformed_patterns_are_refused_with_the_pattern_named(string pattern, string expected)
    {
        var ex = Assert.Throws<PgShiftException>(() => new NamePattern(pattern));
        Assert.Contains($"'{pattern}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Fix);
    }

    [Fact]
    public void Selection_refuses_a_dotted_schema_pattern_and_a_three_part_table_pattern()
    {
        var schemas = new TableSelection();
        schemas.IncludeSchemas.Add(new NamePattern("my.schema"));
        var ex = Assert.Throws<PgShiftException>(schemas.Validate);
        Assert.Contains("--include-schema", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'\"my.schema\"'", ex.Fix, StringComparison.Ordinal);

        var tables = new TableSelection();
        tables.ExcludeTables.Add(new NamePattern("a.b.c"));
        Assert.Contains("3 dot-separated names", Assert.Throws<PgShiftException>(tables.Validate).Message, StringComparison.Ordinal);

        var fine = new TableSelection();
        fine.IncludeSchemas.Add(new NamePattern("\"my.schema\""));
        fine.IncludeTables.Add(new NamePattern("\"my.schema\".\"t.1\""));
        fine.Validate();
        Assert.True(fine.IncludesTable(new QualifiedName("my.schema", "t.1")));
    }

    [Theory]
    [InlineData("public.t.\"we\"\"ird\"", "public", "t", "we\"ird")]
    [InlineData("\"My Schema\".\"T.1\".col", "My Schema", "T.1", "col")]
    public void Excluded_columns_take_quoted_names(string text, string schema, string table, string column)
    {
        var e = new ColumnExclusions();
        e.Add(text);
        Assert.True(e.Excludes(new QualifiedName(schema, table), column));
    }

    [Theory]
    [InlineData("public.t")]
    [InlineData("public.t.\"open")]
    [InlineData("public..c")]
    public void Malformed_excluded_columns_are_refused(string text)
    {
        Assert.Throws<PgShiftException>(() => new ColumnExclusions().Add(text));
    }
}
