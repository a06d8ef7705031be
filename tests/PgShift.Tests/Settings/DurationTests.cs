using PgShift.Settings;

namespace PgShift.Tests.Settings;

public sealed class DurationTests
{
    [Theory]
    [InlineData("12h", 12 * 3600)]
    [InlineData("30m", 1800)]
    [InlineData("90s", 90)]
    [InlineData("1.5h", 5400)]
    [InlineData("0s", 0)]
    public void A_number_and_a_unit_is_a_duration(string text, double seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), SettingValues.Duration(text, "Timeout"));
    }

    [Theory]
    [InlineData("10")]
    [InlineData("m")]
    [InlineData("-5m")]
    [InlineData("10d")]
    [InlineData("ten minutes")]
    [InlineData("1,5h")]
    public void Anything_else_is_refused_with_the_forms_to_write(string text)
    {
        var ex = Assert.Throws<SettingsException>(() => SettingValues.Duration(text, "Timeout"));

        Assert.Equal($"Timeout '{text}' is not understood.", ex.Message);
        Assert.Equal("Write a number and a unit: 12h, 30m or 90s.", ex.Fix);
    }
}
