using PgShift.Connections;
using PgShift.Settings;

namespace PgShift.Tests.Settings;

/// <summary>Whether a task copies the database's large objects: as pg_dump decides, unless the task says so.</summary>
public sealed class LargeObjectSettingsTests
{
    private static readonly ConnectionSpec Server = ConnectionSpecParser.Parse("postgres://app@db/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    private static TaskSettings Build(TaskFile given, TaskFile? stored = null) => TaskSettingsBuilder.Build(Server, Server, "app", given, stored);

    [Fact]
    public void The_whole_database_copies_them_even_with_exclusions()
    {
        Assert.True(Build(new TaskFile()).LargeObjects);
        Assert.True(Build(new TaskFile { ExcludeSchemas = ["audit"], ExcludeTables = ["public.log"] }).LargeObjects);
    }

    [Fact]
    public void Naming_schemas_or_tables_leaves_them_unless_asked()
    {
        Assert.False(Build(new TaskFile { IncludeTables = ["public.orders"] }).LargeObjects);
        Assert.False(Build(new TaskFile { IncludeSchemas = ["app"] }).LargeObjects);
        Assert.True(Build(new TaskFile { IncludeTables = ["public.orders"], LargeObjects = true }).LargeObjects);
        Assert.False(Build(new TaskFile { LargeObjects = false }).LargeObjects);
    }

    [Fact]
    public void A_stored_task_keeps_its_choice_and_a_contradiction_is_a_selection_difference()
    {
        var json = new TaskFile { IncludeTables = ["public.docs"], LargeObjects = true }.ToStoredJson();
        // What is stored is what was said, not what follows from it.
        Assert.Equal("{\"include_tables\":[\"public.docs\"],\"large_objects\":true}", json);
        var stored = TaskFile.FromStoredJson(json);
        Assert.True(Build(new TaskFile(), stored).LargeObjects);
        // Repeating the task's tables without the flag is no contradiction; saying the opposite is.
        Assert.Empty(new TaskFile { IncludeTables = ["public.docs"] }.SelectionDifferences(stored));
        var refused = new TaskFile { IncludeTables = ["public.docs"], LargeObjects = false };
        Assert.True(refused.HasSelection());
        Assert.Equal("large objects: not copied here, copied for the task", Assert.Single(refused.SelectionDifferences(stored)));
    }

    [Fact]
    public void The_task_file_says_it_as_large_objects()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "include_tables: [public.docs]\nlarge_objects: true\n");
            Assert.True(TaskFile.Load(path).CopiesLargeObjects);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
