using PgShift.Catalog;
using PgShift.Copy;

namespace PgShift.Tests.Copy;

public sealed class CopyPlannerTests
{
    private const long Mb = 1048576;

    [Theory]
    [InlineData(100 * Mb, 1024 * Mb, 1)]
    [InlineData(1024 * Mb, 1024 * Mb, 1)]
    [InlineData(1024 * Mb + 1, 1024 * Mb, 2)]
    [InlineData(3000 * Mb, 1024 * Mb, 3)]
    [InlineData(1000 * 1024 * Mb, 1024 * Mb, 64)]
    [InlineData(5000 * Mb, 0, 1)]
    public void A_table_over_the_split_threshold_is_copied_in_one_range_per_threshold_at_most_64(long bytes, long threshold, int parts)
    {
        Assert.Equal(parts, CopyPlanner.Parts(bytes, threshold));
    }

    [Fact]
    public void Page_ranges_cover_every_page_open_at_both_ends()
    {
        var ranges = CopyPlanner.PageRanges(pages: 10, parts: 3);

        Assert.Equal(
        [
            "ctid < '(4,0)'::tid",
            "ctid >= '(4,0)'::tid AND ctid < '(8,0)'::tid",
            "ctid >= '(8,0)'::tid",
        ], ranges);
    }

    [Fact]
    public void Key_ranges_split_the_span_of_the_key_open_at_both_ends()
    {
        var ranges = CopyPlanner.KeyRanges("\"id\"", min: 1, max: 100, parts: 4);

        Assert.Equal(
        [
            "\"id\" < 26",
            "\"id\" >= 26 AND \"id\" < 51",
            "\"id\" >= 51 AND \"id\" < 76",
            "\"id\" >= 76",
        ], ranges);
    }

    [Fact]
    public void Key_ranges_of_a_narrow_span_step_by_at_least_one()
    {
        var ranges = CopyPlanner.KeyRanges("k", min: -5, max: -5, parts: 3);

        Assert.Equal(["k < -4", "k >= -4 AND k < -3", "k >= -3"], ranges);
    }

    [Fact]
    public void Tables_are_copied_largest_first_ties_in_planned_order()
    {
        static TableCopyPlan Plan(string name, long bytes) => new()
        {
            SourceOid = 1, Source = new QualifiedName("public", name), Target = new QualifiedName("public", name),
            SourceColumns = [], TargetColumns = [], Binary = true, EstimatedBytes = bytes, EstimatedRows = 0,
        };

        var ordered = CopyPlanner.LargestFirst([Plan("small", 10), Plan("big", 1000), Plan("tie_a", 50), Plan("tie_b", 50)]);

        Assert.Equal(["big", "tie_a", "tie_b", "small"], ordered.Select(p => p.Source.Name));
    }
}
