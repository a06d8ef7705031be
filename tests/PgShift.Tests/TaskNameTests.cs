using PgShift.Settings;
using PgShift.State;

namespace PgShift.Tests;

public sealed class TaskNameTests
{
    [Theory]
    [InlineData("Sales-DB", "sales_db")]
    [InlineData("2024data", "db_2024data")]
    [InlineData("Ünïcode", "_n_code")]
    public void Default_name_is_derived_from_the_database(string db, string expected)
        => Assert.Equal(expected, TaskName.FromDatabase(db));

    [Fact]
    public void Long_names_are_cut_so_the_slot_name_fits()
    {
        var name = TaskName.FromDatabase(new string('a', 100));
        Assert.True(TaskName.SlotName(name).Length <= 63);
        Assert.Equal(name, TaskName.Validate(name));
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("with-dash")]
    [InlineData("")]
    public void Invalid_names_are_refused_with_a_fix(string name)
    {
        var ex = Assert.Throws<PgShiftException>(() => TaskName.Validate(name));
        Assert.NotNull(ex.Fix);
    }
}
