using PgShift.Stream;

namespace PgShift.Tests.Stream;

public sealed class TransactionSpoolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pgshift-spool-test").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static RowEvent Insert(int id) => new(RowChangeKind.Insert, 7, null, [new ColumnValue(id.ToString(System.Globalization.CultureInfo.InvariantCulture), false)], DateTime.UtcNow);

    private static RelationEvent Relation() => new(7, "public", "t", 'd', [new RelationColumn("id", 23, true)], DateTime.UtcNow);

    private static List<string> Ids(IEnumerable<StreamEvent> events)
        => events.Select(e => e switch { RowEvent r => r.New![0].Text!, RelationEvent => "R", _ => "?" }).ToList();

    [Fact]
    public void A_rolled_back_subtransaction_is_cut_with_its_nested_ones_and_later_changes_stay()
    {
        using var spool = new TransactionSpool(_dir, 100);
        spool.Write(100, Insert(1));
        spool.Write(101, Insert(2));
        spool.Write(102, Insert(3));
        spool.AbortSubtransaction(101);
        spool.Write(103, Insert(4));
        spool.Write(100, Insert(5));
        Assert.Equal(["1", "4", "5"], Ids(spool.Read(DateTime.UtcNow)));
        Assert.Equal([103u], spool.Subtransactions);
    }

    [Fact]
    public void Subtransactions_found_aborted_at_the_commit_are_left_out_wherever_their_changes_lie()
    {
        using var spool = new TransactionSpool(_dir, 100);
        spool.Write(100, Insert(1));
        spool.Write(101, Insert(2));
        spool.Write(100, Insert(3));
        spool.Write(102, Insert(4));
        spool.Write(101, Insert(5));
        Assert.Equal([101u, 102u], spool.Subtransactions.Order());
        Assert.Equal(["1", "3", "4"], Ids(spool.Read(DateTime.UtcNow, new HashSet<uint> { 101 })));
    }

    [Fact]
    public void A_table_shape_sent_inside_a_rolled_back_subtransaction_is_kept_for_the_changes_after_it()
    {
        using var spool = new TransactionSpool(_dir, 100);
        spool.Write(100, Insert(1));
        spool.Write(101, Relation());
        spool.Write(101, Insert(2));
        spool.AbortSubtransaction(101);
        spool.Write(100, Insert(3));
        Assert.Equal(["1", "R", "3"], Ids(spool.Read(DateTime.UtcNow)));

        using var other = new TransactionSpool(_dir, 200);
        other.Write(201, Relation());
        other.Write(201, Insert(1));
        other.Write(200, Insert(2));
        Assert.Equal(["R", "2"], Ids(other.Read(DateTime.UtcNow, new HashSet<uint> { 201 })));
    }
}
