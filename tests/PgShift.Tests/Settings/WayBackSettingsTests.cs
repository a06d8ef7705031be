using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Settings;

namespace PgShift.Tests.Settings;

public sealed class WayBackSettingsTests
{
    private static readonly ConnectionSpec Old = ConnectionSpecParser.Parse("postgres://app@old-db/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });
    private static readonly ConnectionSpec New = ConnectionSpecParser.Parse("postgres://app@new-db/app", new Dictionary<string, string?> { ["HOME"] = "/nonexistent" });

    private static readonly TaskFile Forward = new()
    {
        Jobs = 3,
        OnConflict = "ignore",
        ExcludeColumns = ["sales.orders.secret"],
        Mapping = new TaskFile.MappingSection
        {
            Schemas = new() { ["sales"] = "shop" },
            Tables = new() { ["sales.orders"] = "Orders 2" },
            Columns = new() { ["sales.orders.Customer"] = "customer_name", ["public.\"we.ird\".a"] = "b" },
        },
    };

    private static readonly QualifiedName[] Tables = [new("sales", "orders"), new("sales", "items"), new("public", "we.ird"), new("public", "plain")];

    [Fact]
    public void The_way_back_maps_every_target_name_to_its_source_name()
    {
        var forward = Forward.ToNameMapping();
        var reverse = WayBackSettings.Build(Old, New, "app", WayBackSettings.ReverseFile(Forward, Tables));
        foreach (var table in Tables)
        {
            Assert.Equal(table, reverse.Mapping.MapTable(forward.MapTable(table)));
        }
        var orders = forward.MapTable(new QualifiedName("sales", "orders"));
        Assert.Equal(new QualifiedName("shop", "Orders 2"), orders);
        Assert.Equal("Customer", reverse.Mapping.MapColumn(orders, "customer_name"));
        Assert.Equal("a", reverse.Mapping.MapColumn(new QualifiedName("public", "we.ird"), "b"));
        Assert.Equal("total", reverse.Mapping.MapColumn(orders, "total"));
    }

    [Fact]
    public void The_way_back_streams_the_target_tables_of_the_task_from_the_new_server_to_the_old_one()
    {
        var reverse = WayBackSettings.Build(Old, New, "app", WayBackSettings.ReverseFile(Forward, Tables), new TaskFile { Jobs = 5 });
        Assert.True(reverse.WayBack && reverse.Incremental && !reverse.Schema && !reverse.Full && !reverse.PrepareWayBack);
        Assert.Equal(New.ToString(), reverse.Source.ToString());
        Assert.Equal(Old.ToString(), reverse.Target.ToString());
        // The old server is fenced for the application; the reverse stream's sessions write through the fence.
        Assert.Contains("default_transaction_read_only=off", reverse.Target.ToNpgsqlConnectionString(), StringComparison.Ordinal);
        Assert.True(reverse.Selection.IncludesTable(new QualifiedName("shop", "Orders 2")));
        Assert.True(reverse.Selection.IncludesTable(new QualifiedName("public", "we.ird")));
        Assert.False(reverse.Selection.IncludesTable(new QualifiedName("sales", "orders")));
        Assert.False(reverse.Selection.IncludesTable(new QualifiedName("public", "other")));
        Assert.True(reverse.ExcludedColumns.Excludes(new QualifiedName("shop", "Orders 2"), "secret"));
        Assert.Equal(5, reverse.Jobs);
        Assert.Equal(ConflictPolicy.Ignore, reverse.Conflicts);
        // Stored as it is built: a later command of the way back reads the same settings.
        var again = WayBackSettings.Build(Old, New, "app", TaskFile.FromStoredJson(reverse.StoredForm!));
        Assert.Equal(reverse.StoredForm, again.StoredForm);
    }

    [Fact]
    public void The_task_file_says_reverse_and_the_stored_settings_keep_it()
    {
        var given = new TaskFile { Reverse = true };
        Assert.True(TaskSettingsBuilder.Build(Old, New, "app", given).PrepareWayBack);
        Assert.True(TaskSettingsBuilder.Build(Old, New, "app", new TaskFile(), TaskFile.FromStoredJson(given.ToStoredJson())).PrepareWayBack);
        Assert.False(TaskSettingsBuilder.Build(Old, New, "app", new TaskFile()).PrepareWayBack);
    }
}
