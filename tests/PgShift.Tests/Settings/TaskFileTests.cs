using PgShift.Catalog;
using PgShift.Selection;
using PgShift.Settings;

namespace PgShift.Tests.Selection;

public sealed class TaskFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pgshift-taskfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private TaskFile Load(string text)
    {
        var path = Path.Combine(_dir, "task.yaml");
        File.WriteAllText(path, text);
        return TaskFile.Load(path);
    }

    [Fact]
    public void Every_key_is_read_in_its_underscored_form()
    {
        var file = Load("""
            task: app
            source: postgres://app@old-db/app
            target: postgres://app@new-db/app
            types: [schema, full]
            jobs: 6
            retry_window: 30m
            include_schemas: [public, sales]
            exclude_schemas: [audit]
            include_tables: ["public.orders*"]
            exclude_tables: [public.tmp]
            exclude_columns: [public.users.ssn]
            on_conflict: ignore
            split_threshold_mb: 0.5
            """);

        Assert.Equal("app", file.Task);
        Assert.Equal("postgres://app@old-db/app", file.Source);
        Assert.Equal("postgres://app@new-db/app", file.Target);
        Assert.Equal(["schema", "full"], file.Types);
        Assert.Equal(6, file.Jobs);
        Assert.Equal("30m", file.RetryWindow);
        Assert.Equal(["public", "sales"], file.IncludeSchemas);
        Assert.Equal(["audit"], file.ExcludeSchemas);
        Assert.Equal(["public.orders*"], file.IncludeTables);
        Assert.Equal(["public.tmp"], file.ExcludeTables);
        Assert.Equal(["public.users.ssn"], file.ExcludeColumns);
        Assert.Equal("ignore", file.OnConflict);
        Assert.Equal(0.5, file.SplitThresholdMb);
        Assert.True(file.ToColumnExclusions().Excludes(new QualifiedName("public", "users"), "ssn"));
        var selection = file.ToSelection();
        Assert.Equal(2, selection.IncludeSchemas.Count);
        Assert.Single(selection.ExcludeTables);
    }

    [Fact]
    public void An_empty_file_says_nothing()
    {
        var file = Load("");

        Assert.Null(file.Task);
        Assert.False(file.HasSelection());
        Assert.True(file.ToNameMapping().IsEmpty);
    }

    [Fact]
    public void Json_is_a_task_file_too()
    {
        var file = Load("""{"task": "app", "jobs": 3, "exclude_tables": ["public.tmp"]}""");

        Assert.Equal("app", file.Task);
        Assert.Equal(3, file.Jobs);
        Assert.True(file.HasSelection());
    }

    [Fact]
    public void Mapping_renames_schemas_tables_and_quoted_columns()
    {
        var mapping = Load("""
            mapping:
              schemas: {legacy: app}
              tables: {"legacy.Users": people}
              columns: {"legacy.Users.\"e.mail\"": email}
            """).ToNameMapping();

        var users = new QualifiedName("legacy", "Users");
        Assert.Equal("app", mapping.MapSchema("legacy"));
        Assert.Equal(new QualifiedName("app", "people"), mapping.MapTable(users));
        Assert.Equal("email", mapping.MapColumn(users, "e.mail"));
        Assert.Equal("id", mapping.MapColumn(users, "id"));
        Assert.Equal(new QualifiedName("app", "orders"), mapping.MapTable(new QualifiedName("legacy", "orders")));
    }

    [Theory]
    [InlineData("tables: {users: people}", "Mapped table 'users' is not of the form schema.table.")]
    [InlineData("columns: {public.users: email}", "Mapped column 'public.users' is not of the form schema.table.column.")]
    public void A_mapping_key_of_the_wrong_form_is_refused(string section, string message)
    {
        var file = Load("mapping:\n  " + section + "\n");

        var ex = Assert.Throws<PgShiftException>(() => file.ToNameMapping());
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void An_unknown_key_is_refused_with_where_it_is()
    {
        var ex = Assert.Throws<SettingsException>(() => Load("task: app\nexclude_table: [public.tmp]\n"));

        Assert.Contains("cannot be read: line 2: unknown key 'exclude_table'; the keys are task, source, target, types, jobs,", ex.Message, StringComparison.Ordinal);
        Assert.Contains("exclude_tables", ex.Fix, StringComparison.Ordinal);
    }

    /// <summary>Each used to show the deserializer's words: .NET type names (System.Nullable`1[...], PgShift.Settings.TaskFile, PublicKeyToken=...).</summary>
    [Theory]
    [InlineData("jobs: abc\n", "line 1: jobs must be a whole number (e.g. 4), not 'abc'")]
    [InlineData("task: app\njobs: [1, 2]\n", "line 2: jobs must be a whole number (e.g. 4), not a list")]
    [InlineData("jobs: [1\n", "line 2, column 1: this is not valid YAML")]
    [InlineData("include_schemas: public\n", "line 1: include_schemas must be a list of text values ([a, b], or one '- a' per line), not the single value 'public'")]
    [InlineData("- a\n- b\n", "line 1: the file holds a list, where a task file holds keys and values")]
    [InlineData("mapping: 3\n", "line 1: mapping must be a mapping with the keys schemas, tables, columns, not the single value '3'")]
    [InlineData("mapping:\n  schema: {a: b}\n", "line 2: unknown key 'mapping.schema'; the keys under mapping are schemas, tables, columns")]
    [InlineData("mapping:\n  tables: [a]\n", "line 2: mapping.tables must be a mapping of names to new names (old: new, one per line), not a list")]
    [InlineData("large_objects: maybe\n", "line 1: large_objects must be true or false, not 'maybe'")]
    [InlineData("split_threshold_mb: big\n", "line 1: split_threshold_mb must be a number (e.g. 1024 or 0.5), not 'big'")]
    [InlineData("source: {host: db}\n", "line 1: source must be a text value, not a mapping (key: value lines)")]
    public void A_value_of_the_wrong_kind_is_said_in_words_with_its_line(string text, string expected)
    {
        var ex = Assert.Throws<SettingsException>(() => Load(text));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", ex.Message + ex.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("PgShift.", ex.Message + ex.Fix, StringComparison.Ordinal);
        Assert.DoesNotContain("PublicKeyToken", ex.Message + ex.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var path = Path.Combine(_dir, "nope.yaml");

        var ex = Assert.Throws<PgShiftException>(() => TaskFile.Load(path));
        Assert.Equal($"Task file '{path}' does not exist.", ex.Message);
    }

    [Fact]
    public void The_stored_form_keeps_the_settings_but_not_the_servers_or_the_name()
    {
        var file = new TaskFile
        {
            Task = "app", Source = "postgres://app:secret@old-db/app", Target = "postgres://app@new-db/app",
            Types = ["full", "incremental"], Jobs = 4, RetryWindow = "1h", IncludeTables = ["public.*"], ExcludeColumns = ["public.users.ssn"],
            Mapping = new TaskFile.MappingSection { Schemas = new() { ["legacy"] = "app" } }, OnConflict = "ignore", SplitThresholdMb = 256,
        };

        var json = file.ToStoredJson();
        var back = TaskFile.FromStoredJson(json);

        Assert.DoesNotContain("secret", json, StringComparison.Ordinal);
        Assert.Contains("\"split_threshold_mb\":256", json, StringComparison.Ordinal);
        Assert.Null(back.Task);
        Assert.Null(back.Source);
        Assert.Null(back.Target);
        Assert.Equal(["full", "incremental"], back.Types);
        Assert.Equal(4, back.Jobs);
        Assert.Equal("1h", back.RetryWindow);
        Assert.Equal("ignore", back.OnConflict);
        Assert.Equal(256, back.SplitThresholdMb);
        Assert.Empty(file.SelectionDifferences(back));
    }

    [Fact]
    public void Selection_differences_name_what_differs_in_any_order_of_entries()
    {
        var mine = new TaskFile
        {
            IncludeTables = ["public.b", "public.a"], ExcludeColumns = ["public.users.ssn"],
            Mapping = new TaskFile.MappingSection { Tables = new() { ["public.users"] = "people" } },
        };
        var theirs = new TaskFile { IncludeTables = ["public.a", "public.b"], ExcludeSchemas = ["audit"] };

        Assert.Equal(
        [
            "exclude schemas: [] here, [audit] for the task",
            "exclude columns: [public.users.ssn] here, [] for the task",
            "renamed tables: [public.users -> people] here, [] for the task",
        ], mine.SelectionDifferences(theirs));
    }
}
