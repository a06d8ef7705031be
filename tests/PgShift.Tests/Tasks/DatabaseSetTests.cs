using PgShift.Catalog;
using PgShift.Tasks;

namespace PgShift.Tests.Tasks;

public sealed class DatabaseSetTests
{
    private static ServerDatabase Db(string name) => new(name, "postgres", "UTF8", "C", "C");

    [Fact]
    public void Each_database_task_is_named_after_it_made_valid()
    {
        var names = DatabaseSet.TaskNames([Db("shop"), Db("Shop \"EU\" ü"), Db("2024-archive")]);

        Assert.Equal("shop", names["shop"]);
        Assert.Equal("shop__eu___", names["Shop \"EU\" ü"]);
        Assert.Equal("db_2024_archive", names["2024-archive"]);
    }

    [Fact]
    public void Two_databases_that_would_share_a_task_name_and_a_slot_are_refused_naming_both()
    {
        var ex = Assert.Throws<PgShiftException>(() => DatabaseSet.TaskNames([Db("a-b"), Db("a_b"), Db("c")]));

        Assert.Equal("The databases \"a-b\" and a_b would both be migrated by a task named a_b (a task's name is its database's, in lower-case letters, digits and underscores).", ex.Message);
        Assert.Contains("--exclude-database", ex.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("shop", "shop")]
    [InlineData("Shop", "\"Shop\"")]
    [InlineData("Shop \"EU\" ü", "\"Shop \"\"EU\"\" ü\"")]
    public void A_database_name_shows_bare_when_it_needs_no_quoting(string name, string shown)
        => Assert.Equal(shown, DatabaseSet.Quoted(name));
}
