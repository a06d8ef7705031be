using PgShift.Schema;

namespace PgShift.Tests.Schema;

public sealed class DependencyOrderTests
{
    private static SchemaObject Object(string key, ObjectKind kind, string name, params string[] dependsOn)
    {
        var o = new SchemaObject(key, kind, "app", name, $"{kind} {name}");
        foreach (var d in dependsOn)
        {
            o.DependsOn.Add(d);
        }
        return o;
    }

    private static string[] Keys(IEnumerable<SchemaObject> objects) => objects.Select(o => o.Key).ToArray();

    [Fact]
    public void An_object_comes_after_what_it_depends_on_whatever_its_kind()
    {
        // A domain whose CHECK calls a function: the function (a later kind) is created first.
        var domain = Object("type:1", ObjectKind.Type, "positive", "proc:2");
        var function = Object("proc:2", ObjectKind.Function, "is_positive");
        var table = Object("rel:3", ObjectKind.Table, "t", "type:1");

        var sorted = DependencyOrder.Sort([table, domain, function]);

        Assert.Equal(["proc:2", "type:1", "rel:3"], Keys(sorted));
    }

    [Fact]
    public void Objects_ready_at_the_same_time_come_by_kind_then_schema_then_name_then_key()
    {
        var objects = new List<SchemaObject>
        {
            Object("rel:20", ObjectKind.Table, "b"),
            new("rel:30", ObjectKind.Table, "aaa", "z", "table aaa.z"),
            Object("rel:11", ObjectKind.Table, "a"),
            Object("rel:10", ObjectKind.Table, "a"),
            Object("proc:5", ObjectKind.Function, "f"),
            Object("ns:1", ObjectKind.Schema, "app"),
        };

        var sorted = DependencyOrder.Sort(objects);

        Assert.Equal(["ns:1", "proc:5", "rel:30", "rel:10", "rel:11", "rel:20"], Keys(sorted));
        // The same input in another order gives the same order: stable from run to run.
        Assert.Equal(Keys(sorted), Keys(DependencyOrder.Sort(objects.AsEnumerable().Reverse().ToList())));
    }

    [Fact]
    public void Dependencies_on_objects_not_being_created_and_on_itself_are_ignored()
    {
        var view = Object("rel:2", ObjectKind.View, "v", "rel:2", "rel:999", "ext:7");
        var table = Object("rel:1", ObjectKind.Table, "t");

        var sorted = DependencyOrder.Sort([view, table]);

        Assert.Equal(["rel:1", "rel:2"], Keys(sorted));
    }

    [Fact]
    public void A_cycle_is_broken_at_the_first_object_by_kind_and_every_object_comes_once()
    {
        // A function returning the table's row type, used in that table's default.
        var table = Object("rel:1", ObjectKind.Table, "t", "proc:2");
        var function = Object("proc:2", ObjectKind.Function, "next_t", "rel:1");
        var view = Object("rel:3", ObjectKind.View, "v", "rel:1");
        var unrelated = Object("rel:4", ObjectKind.Sequence, "s");

        var sorted = DependencyOrder.Sort([view, table, function, unrelated]);

        Assert.Equal(["rel:4", "proc:2", "rel:1", "rel:3"], Keys(sorted));
    }

    [Fact]
    public void A_chain_follows_its_edges_even_against_the_kind_order()
    {
        var rule = Object("rule:1", ObjectKind.Rule, "r");
        var view = Object("rel:2", ObjectKind.View, "v", "rule:1");
        var type = Object("type:3", ObjectKind.Type, "t", "rel:2");
        var schema = Object("ns:4", ObjectKind.Schema, "app", "type:3");

        var sorted = DependencyOrder.Sort([schema, type, view, rule]);

        Assert.Equal(["rule:1", "rel:2", "type:3", "ns:4"], Keys(sorted));
    }

    [Fact]
    public void No_objects_give_an_empty_order()
    {
        Assert.Empty(DependencyOrder.Sort([]));
    }
}
