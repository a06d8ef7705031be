using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;
using PgShift.Stream;

namespace PgShift.Tests.Stream;

public class NetChangesTests
{
    private static readonly StreamTable Table = new()
    {
        Source = new QualifiedName("public", "t"),
        Target = new QualifiedName("app", "T 2"),
        Columns = [("id", 23u, true), ("v", 25u, true), ("big", 25u, true)],
        TargetColumns = ["id", "v", "Big"],
        TargetTypes = ["integer", "text", "text"],
        SyncLsn = new NpgsqlLogSequenceNumber(0),
        Foldable = true,
    };

    private static ColumnValue V(string? text) => new(text, false);
    private static ColumnValue[] Row(string id, string? v, string? big) => [V(id), V(v), V(big)];
    private static ColumnValue[] RowKeepingBig(string id, string? v) => [V(id), V(v), ColumnValue.UnchangedToast];

    private static List<(string Sql, int Rows, string?[][] Values)> Drain(NetChanges net, ConflictPolicy conflicts = ConflictPolicy.Error)
        => net.Drain(conflicts, new StatementCache())
            .Select(d => (d.Command.CommandText, d.Rows, d.Command.Parameters.Select(p => (string?[])p.Value!).ToArray()))
            .ToList();

    [Fact]
    public void An_insert_then_updates_of_the_same_row_become_one_insert_keeping_what_the_updates_left_unchanged()
    {
        var net = new NetChanges(Table, [0]);
        Assert.True(net.TryAdd(RowChangeKind.Insert, null, Row("1", "a", "long")));
        Assert.True(net.TryAdd(RowChangeKind.Update, null, RowKeepingBig("1", "b")));
        Assert.True(net.TryAdd(RowChangeKind.Update, null, RowKeepingBig("1", "c")));
        var s = Assert.Single(Drain(net));
        Assert.Equal("""INSERT INTO "app"."T 2" ("id", "v", "Big") OVERRIDING SYSTEM VALUE SELECT v.c0::integer, v.c1::text, v.c2::text FROM unnest($1::text[], $2::text[], $3::text[]) AS v(c0, c1, c2)""", s.Sql);
        Assert.Equal(1, s.Rows);
        Assert.Equal(new[] { "1" }, s.Values[0]);
        Assert.Equal(new[] { "c" }, s.Values[1]);
        Assert.Equal(new[] { "long" }, s.Values[2]);
        Assert.Equal(0, net.Count);
    }

    [Fact]
    public void An_insert_then_a_delete_leaves_nothing_and_an_update_then_a_delete_is_a_delete()
    {
        var net = new NetChanges(Table, [0]);
        net.TryAdd(RowChangeKind.Insert, null, Row("1", "a", null));
        net.TryAdd(RowChangeKind.Delete, [V("1"), ColumnValue.Null, ColumnValue.Null], null);
        net.TryAdd(RowChangeKind.Update, null, RowKeepingBig("2", "x"));
        net.TryAdd(RowChangeKind.Delete, [V("2"), ColumnValue.Null, ColumnValue.Null], null);
        var s = Assert.Single(Drain(net));
        Assert.Equal("""DELETE FROM ONLY "app"."T 2" AS t USING unnest($1::text[]) AS v(c0) WHERE t."id" = v.c0::integer""", s.Sql);
        Assert.Equal(new[] { "2" }, s.Values[0]);
    }

    [Fact]
    public void A_delete_then_an_insert_of_the_same_key_deletes_first_and_updates_go_by_the_columns_they_set()
    {
        var net = new NetChanges(Table, [0]);
        net.TryAdd(RowChangeKind.Delete, [V("1"), ColumnValue.Null, ColumnValue.Null], null);
        net.TryAdd(RowChangeKind.Insert, null, Row("1", "new", null));
        net.TryAdd(RowChangeKind.Update, null, RowKeepingBig("2", "only v"));
        net.TryAdd(RowChangeKind.Update, null, Row("3", "v", "and big"));
        var drained = Drain(net);
        Assert.Equal(4, drained.Count);
        Assert.StartsWith("DELETE", drained[0].Sql, StringComparison.Ordinal);
        Assert.Equal("""UPDATE ONLY "app"."T 2" AS t SET "v" = v.c1::text FROM unnest($1::text[], $2::text[]) AS v(c0, c1) WHERE t."id" = v.c0::integer""", drained[1].Sql);
        Assert.Equal("""UPDATE ONLY "app"."T 2" AS t SET "v" = v.c1::text, "Big" = v.c2::text FROM unnest($1::text[], $2::text[], $3::text[]) AS v(c0, c1, c2) WHERE t."id" = v.c0::integer""", drained[2].Sql);
        Assert.StartsWith("INSERT", drained[3].Sql, StringComparison.Ordinal);
        Assert.Equal(new[] { "new" }, drained[3].Values[1]);
    }

    [Fact]
    public void A_key_change_or_a_contradiction_is_not_folded_and_a_keyless_table_folds_inserts_only()
    {
        var net = new NetChanges(Table, [0]);
        Assert.False(net.TryAdd(RowChangeKind.Update, [V("1"), ColumnValue.Null, ColumnValue.Null], Row("9", "moved", null)));
        Assert.True(net.TryAdd(RowChangeKind.Insert, null, Row("5", "a", null)));
        Assert.False(net.TryAdd(RowChangeKind.Insert, null, Row("5", "again", null)));

        var keyless = new NetChanges(Table, []);
        Assert.True(keyless.TryAdd(RowChangeKind.Insert, null, Row("1", "a", null)));
        Assert.True(keyless.TryAdd(RowChangeKind.Insert, null, Row("1", "a", null)));
        Assert.False(keyless.TryAdd(RowChangeKind.Delete, Row("1", "a", null), null));
        var s = Assert.Single(Drain(keyless, ConflictPolicy.Ignore));
        Assert.Equal(2, s.Rows);
        Assert.EndsWith(" ON CONFLICT DO NOTHING", s.Sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Composite_keys_of_any_text_stay_apart()
    {
        var table = new StreamTable
        {
            Source = new QualifiedName("public", "m"), Target = new QualifiedName("public", "m"),
            Columns = [("a", 25u, true), ("b", 25u, true), ("v", 25u, true)], TargetColumns = ["a", "b", "v"],
            TargetTypes = ["text", "text", "text"], SyncLsn = new NpgsqlLogSequenceNumber(0), Foldable = true,
        };
        var net = new NetChanges(table, [0, 1]);
        Assert.True(net.TryAdd(RowChangeKind.Insert, null, [V("a,b"), V(""), V("1")]));
        Assert.True(net.TryAdd(RowChangeKind.Insert, null, [V("a"), V(",b"), V("2")]));
        Assert.True(net.TryAdd(RowChangeKind.Insert, null, [V(""), V("a,b"), V("3")]));
        Assert.Equal(3, Assert.Single(Drain(net)).Rows);
    }
}
