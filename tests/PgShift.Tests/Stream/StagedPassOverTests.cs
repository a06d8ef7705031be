using System.Text;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.State;
using PgShift.Stream;

namespace PgShift.Tests.Stream;

/// <summary>The staged row changes read past undecoded are only those the applier would pass over itself.</summary>
public class StagedPassOverTests
{
    private static readonly QualifiedName Capture = new("public", "pgshift_capture");
    private static readonly NpgsqlLogSequenceNumber Sync = new(1000);

    private static StagedPassOver PassOver() => new(new Dictionary<QualifiedName, NpgsqlLogSequenceNumber>
    {
        [new QualifiedName("public", "a")] = Sync,
        [new QualifiedName("Odd \"Schema", "B b")] = new NpgsqlLogSequenceNumber(0),
    }, Capture);

    private static RelationEvent Relation(uint id, string schema, string name) => new(id, schema, name, 'd', [new RelationColumn("id", 23, true)], DateTime.UtcNow);

    /// <summary>A row change staged as the stager stages it (the stream's own binary form), committed at <paramref name="commitLsn"/>.</summary>
    private static StagedRow Row(uint relation, ulong commitLsn, StagedKind kind = StagedKind.Event)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            StreamEventCodec.Write(writer, new RowEvent(RowChangeKind.Update, relation, null, [new ColumnValue("1", false)], DateTime.UtcNow));
        }
        return new StagedRow(1, kind, new NpgsqlLogSequenceNumber(commitLsn), null, null, 0, buffer.ToArray());
    }

    [Fact]
    public void Changes_of_a_table_committed_before_its_sync_lsn_are_passed_over_and_the_others_are_not()
    {
        var passOver = PassOver();
        passOver.Saw(Relation(70001, "public", "a"));
        Assert.True(passOver.Skips(Row(70001, 999)));
        Assert.False(passOver.Skips(Row(70001, 1000)));
        Assert.False(passOver.Skips(Row(70001, 5000)));
        passOver.Saw(Relation(70002, "Odd \"Schema", "B b"));
        Assert.False(passOver.Skips(Row(70002, 1)));
    }

    [Fact]
    public void Changes_of_relations_that_are_none_of_the_tables_are_passed_over_and_unknown_ids_are_not()
    {
        var passOver = PassOver();
        passOver.Saw(Relation(70003, "public", "elsewhere"));
        Assert.True(passOver.Skips(Row(70003, 5000)));
        // A relation id without its Relation message yet is the applier's to judge.
        Assert.False(passOver.Skips(Row(70004, 1)));
        // The same id renamed to a table applied to: its name from here on decides.
        passOver.Saw(Relation(70003, "public", "a"));
        Assert.False(passOver.Skips(Row(70003, 5000)));
        Assert.True(passOver.Skips(Row(70003, 10)));
    }

    [Fact]
    public void Nothing_is_passed_over_after_a_row_of_the_capture_table()
    {
        var passOver = PassOver();
        passOver.Saw(Relation(70001, "public", "a"));
        passOver.Saw(Relation(70003, "public", "elsewhere"));
        passOver.Saw(Relation(70009, Capture.Schema, Capture.Name));
        Assert.True(passOver.Skips(Row(70003, 5000)));
        Assert.False(passOver.Skips(Row(70009, 5000)));
        // A schema change may rename, reshape or add the applier's tables: the applier decides alone from here on.
        Assert.False(passOver.Skips(Row(70003, 5000)));
        Assert.False(passOver.Skips(Row(70001, 1)));
    }

    [Fact]
    public void Rows_that_are_not_row_changes_are_never_passed_over()
    {
        var passOver = PassOver();
        passOver.Saw(Relation(70003, "public", "elsewhere"));
        Assert.False(passOver.Skips(Row(70003, 5000, StagedKind.TableShape)));
        Assert.False(passOver.Skips(new StagedRow(1, StagedKind.Begin, new NpgsqlLogSequenceNumber(5000), null, null, 7, null)));
        Assert.False(passOver.Skips(new StagedRow(2, StagedKind.Event, new NpgsqlLogSequenceNumber(5000), null, null, 0, [(byte)'T', 0, 0, 1, 0, 0, 0])));
    }
}
