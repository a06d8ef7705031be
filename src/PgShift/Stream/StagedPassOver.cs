using System.Buffers.Binary;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.State;

namespace PgShift.Stream;

/// <summary>
/// The staged row changes that the reader of staged rows may pass over without decoding them, because the applier
/// would pass them over anyway: those of a relation that is none of its tables (as its last Relation message named
/// it), and those committed before their table's sync LSN (invariant 2). It must decide as the applier will when it
/// reaches the row, so it stops passing over anything at the first row of the task's capture table: a schema change
/// may rename, reshape or add the applier's tables from there on.
/// </summary>
/// <param name="applyFrom">The applier's tables (by source name) and their sync LSN, as they are when the reading starts.</param>
/// <param name="captureTable">The source name of the task's capture table (<see cref="Replication.SchemaCapture"/>).</param>
internal sealed class StagedPassOver(IReadOnlyDictionary<QualifiedName, NpgsqlLogSequenceNumber> applyFrom, QualifiedName captureTable)
{
    /// <summary>For each relation passed over in part or whole, by id: the commit LSN from which its changes are wanted.</summary>
    private readonly Dictionary<uint, NpgsqlLogSequenceNumber> _from = new();
    private uint? _captureRelation;
    private bool _off;

    /// <summary>Whether the row may go undecoded (call with every row, in order; a Relation message's row is given decoded to <see cref="Saw"/>).</summary>
    public bool Skips(StagedRow row)
    {
        if (_off || row is not { Kind: StagedKind.Event, Event: [(byte)'R', _, _, _, _, _, ..] bytes })
        {
            return false;
        }
        // A row change's record: its tag, its kind, then its relation id.
        var relation = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(2));
        if (relation == _captureRelation)
        {
            _off = true;
            return false;
        }
        return _from.TryGetValue(relation, out var from) && row.CommitLsn < from;
    }

    /// <summary>A Relation message, in its place: what its relation id names from here on.</summary>
    public void Saw(RelationEvent relation)
    {
        var name = new QualifiedName(relation.Schema, relation.Name);
        if (name == captureTable)
        {
            _captureRelation = relation.RelationId;
            _from.Remove(relation.RelationId);
        }
        else
        {
            _from[relation.RelationId] = applyFrom.TryGetValue(name, out var lsn) ? lsn : new NpgsqlLogSequenceNumber(ulong.MaxValue);
        }
    }
}
