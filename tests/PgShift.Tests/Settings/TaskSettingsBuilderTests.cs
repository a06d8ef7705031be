using PgShift.Connections;
using PgShift.Settings;

namespace PgShift.Tests.Settings;

public sealed class TaskSettingsBuilderTests
{
    private static readonly ConnectionSpec Source = ConnectionSpecParser.Parse("postgres://app@old-db/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });
    private static readonly ConnectionSpec Target = ConnectionSpecParser.Parse("postgres://app@new-db/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    private static TaskSettings Build(TaskFile given, TaskFile? stored = null) => TaskSettingsBuilder.Build(Source, Target, "app", given, stored);

    [Fact]
    public void Nothing_given_means_the_defaults()
    {
        var s = Build(new TaskFile());
        Assert.True(s.Schema && s.Full && s.Incremental);
        Assert.Equal(TaskSettings.DefaultJobs, s.Jobs);
        Assert.True(s.Jobs >= 2);
        Assert.Equal(1024L * 1048576, s.SplitThresholdBytes);
        Assert.Equal(TimeSpan.FromHours(12), s.RetryWindow);
        Assert.Equal(ConflictPolicy.Error, s.Conflicts);
        Assert.Empty(s.Selection.IncludeTables);
    }

    [Fact]
    public void What_is_given_is_used()
    {
        var s = Build(new TaskFile
        {
            Types = ["schema", "full"], Jobs = 3, SplitThresholdMb = 0.5, RetryWindow = "90s", OnConflict = "ignore",
            IncludeTables = ["public.orders"], ExcludeColumns = ["public.orders.secret"],
            Mapping = new TaskFile.MappingSection { Schemas = new() { ["public"] = "app" } },
        });
        Assert.True(s.Schema && s.Full);
        Assert.False(s.Incremental);
        Assert.Equal(3, s.Jobs);
        Assert.Equal(524288, s.SplitThresholdBytes);
        Assert.Equal(TimeSpan.FromSeconds(90), s.RetryWindow);
        Assert.Equal(ConflictPolicy.Ignore, s.Conflicts);
        Assert.Single(s.Selection.IncludeTables);
        Assert.Equal("app", s.Mapping.Schemas["public"]);
        Assert.Contains("\"include_tables\":[\"public.orders\"]", s.StoredForm, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stored_task_keeps_its_selection_and_given_tuning_wins_over_its_own()
    {
        var stored = new TaskFile { IncludeTables = ["public.a"], ExcludeColumns = ["public.a.x"], Jobs = 8, OnConflict = "ignore", SplitThresholdMb = 10 };
        var s = Build(new TaskFile { Jobs = 2 }, stored);
        Assert.Equal("public.a", Assert.Single(s.Selection.IncludeTables).Pattern);
        Assert.False(s.ExcludedColumns.IsEmpty);
        Assert.Equal(2, s.Jobs);
        Assert.Equal(ConflictPolicy.Ignore, s.Conflicts);
        Assert.Equal(10L * 1048576, s.SplitThresholdBytes);
        // The stored form stays the task's own.
        Assert.Equal(stored.ToStoredJson(), s.StoredForm);
    }

    [Fact]
    public void A_stage_options_record_carries_the_settings_and_only_its_own_extras()
    {
        var s = Build(new TaskFile { Jobs = 5, OnConflict = "ignore" });
        var copy = new PgShift.Copy.FullCopyOptions(s) { KnownTablesOnly = true };
        Assert.Equal(5, copy.Jobs);
        Assert.Equal(ConflictPolicy.Ignore, copy.Conflicts);
        Assert.Equal("app", copy.TaskName);
        Assert.True(copy.KnownTablesOnly);
        var stream = new PgShift.Stream.StreamOptions(copy with { Incremental = false });
        Assert.False(stream.Incremental);
        Assert.Equal(5, stream.Jobs);
    }

    [Theory]
    [InlineData("jobs", "jobs '0' is not a number of parallel connections")]
    [InlineData("split", "split_threshold_mb '-1' is not a size in MB above 0")]
    [InlineData("window", "Retry window '12 hours' is not understood")]
    [InlineData("conflict", "Unknown conflict policy 'skip'")]
    [InlineData("types", "Unknown migration type 'everything'")]
    [InlineData("name", "Task name 'Bad-Name' is not valid")]
    public void A_bad_value_in_the_task_file_is_refused_with_its_name_and_a_fix(string what, string message)
    {
        var file = what switch
        {
            "jobs" => new TaskFile { Jobs = 0 },
            "split" => new TaskFile { SplitThresholdMb = -1 },
            "window" => new TaskFile { RetryWindow = "12 hours" },
            "conflict" => new TaskFile { OnConflict = "skip" },
            "types" => new TaskFile { Types = ["everything"] },
            _ => new TaskFile(),
        };
        var ex = Assert.ThrowsAny<PgShiftException>(() => TaskSettingsBuilder.Build(Source, Target, what == "name" ? "Bad-Name" : "app", file));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(ex.Fix));
    }

    [Theory]
    [InlineData("schema,full", new[] { "schema", "full" })]
    [InlineData(" Incremental , full ", new[] { "incremental", "full" })]
    public void Types_are_a_comma_separated_list(string text, string[] expected)
        => Assert.Equal(expected.Order(), SettingValues.Types(text).Order());
}
