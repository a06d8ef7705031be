using PgShift.Connections;
using PgShift.Settings;

namespace PgShift.Tests.Settings;

public sealed class RateSettingsTests
{
    [Theory]
    [InlineData("50MB", 50L * 1048576)]
    [InlineData("500kB", 500L * 1024)]
    [InlineData("500KB", 500L * 1024)]
    [InlineData("1.5GB", 1610612736L)]
    [InlineData("2MB/s", 2L * 1048576)]
    [InlineData("4096", 4096L)]
    [InlineData("100B", 100L)]
    [InlineData("0", 0L)]
    [InlineData("none", 0L)]
    public void A_byte_rate_is_a_size_a_second_in_PostgreSQL_units(string text, long bytes)
        => Assert.Equal(bytes, SettingValues.ByteRate(text, "--max-copy-rate"));

    [Theory]
    [InlineData("fast")]
    [InlineData("-1MB")]
    [InlineData("50M")]
    [InlineData("MB")]
    [InlineData("1e30GB")]
    public void Anything_else_is_refused_with_examples(string text)
    {
        var ex = Assert.Throws<SettingsException>(() => SettingValues.ByteRate(text, "--max-copy-rate"));
        Assert.Equal($"--max-copy-rate '{text}' is not a rate in bytes a second.", ex.Message);
        Assert.Contains("--max-copy-rate 50MB", ex.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1000", 1000)]
    [InlineData("2.5", 2.5)]
    [InlineData("300/s", 300)]
    [InlineData("0", 0)]
    [InlineData("off", 0)]
    public void A_change_rate_is_a_number_a_second(string text, double rate)
        => Assert.Equal(rate, SettingValues.ChangeRate(text, "--max-apply-rate"));

    [Theory]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("NaN")]
    public void A_change_rate_that_is_not_a_number_above_or_at_zero_is_refused(string text)
        => Assert.Equal($"--max-apply-rate '{text}' is not a number of changes a second.",
            Assert.Throws<SettingsException>(() => SettingValues.ChangeRate(text, "--max-apply-rate")).Message);

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("http")]
    public void A_metrics_port_is_1_to_65535(string text)
        => Assert.Equal($"--metrics-port '{text}' is not a TCP port.", Assert.Throws<SettingsException>(() => SettingValues.Port(text, "--metrics-port")).Message);

    [Fact]
    public void The_task_file_gives_limits_and_the_metrics_endpoint_and_none_of_them_is_stored_with_the_task()
    {
        var given = new TaskFile { MaxCopyRate = "50MB", MaxApplyRate = "1000", MetricsPort = 9187, MetricsAddress = "0.0.0.0" };
        var spec = ConnectionSpecParser.Parse("postgres://app@old-db/app");

        var settings = TaskSettingsBuilder.Build(spec, spec, "app", given);

        Assert.Equal(50L * 1048576, settings.MaxCopyRate);
        Assert.Equal(1000, settings.MaxApplyRate);
        Assert.Equal(new MonitorEndpoint("0.0.0.0", 9187), settings.Monitor);
        Assert.DoesNotContain("rate", settings.StoredForm, StringComparison.Ordinal);
        Assert.DoesNotContain("metrics", settings.StoredForm, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_limits_the_task_keeps_its_own_and_serves_no_metrics()
    {
        var spec = ConnectionSpecParser.Parse("postgres://app@old-db/app");

        var settings = TaskSettingsBuilder.Build(spec, spec, "app", new TaskFile());

        Assert.Null(settings.MaxCopyRate);
        Assert.Null(settings.MaxApplyRate);
        Assert.Null(settings.Monitor);
    }

    [Fact]
    public void A_metrics_address_without_a_port_is_refused()
        => Assert.Equal("A metrics address comes without a port.", Assert.Throws<SettingsException>(() =>
            TaskSettingsBuilder.Build(ConnectionSpecParser.Parse("postgres://a@h/d"), ConnectionSpecParser.Parse("postgres://a@h/d"), "d",
                new TaskFile { MetricsAddress = "127.0.0.1" })).Message);
}
