using System.Diagnostics;

namespace PgShift.Stream;

/// <summary>
/// The binary form of the events a transaction holds (Relation, row and TRUNCATE messages), as a spool file of a
/// streamed transaction and the staged changes on the target keep them: one record per event, read back in the order
/// written. Begin and Commit are the holder's own (a spool file is one transaction; a staged row carries its LSNs).
/// </summary>
internal static class StreamEventCodec
{
    public static void Write(BinaryWriter writer, StreamEvent e)
    {
        switch (e)
        {
            case RowEvent r:
                writer.Write((byte)'R');
                writer.Write((byte)r.Kind);
                writer.Write(r.RelationId);
                WriteValues(writer, r.Old);
                WriteValues(writer, r.New);
                break;
            case RelationEvent rel:
                writer.Write((byte)'L');
                writer.Write(rel.RelationId);
                writer.Write(rel.Schema);
                writer.Write(rel.Name);
                writer.Write(rel.ReplicaIdentity);
                writer.Write(rel.Columns.Count);
                foreach (var c in rel.Columns)
                {
                    writer.Write(c.Name);
                    writer.Write(c.TypeOid);
                    writer.Write(c.IsKey);
                }
                break;
            case TruncateEvent t:
                writer.Write((byte)'T');
                writer.Write(t.Cascade);
                writer.Write(t.RestartIdentity);
                writer.Write(t.RelationIds.Count);
                foreach (var id in t.RelationIds)
                {
                    writer.Write(id);
                }
                break;
            default:
                throw new UnreachableException($"A {e.GetType().Name} has no record of its own.");
        }
    }

    /// <summary>The next record; <paramref name="where"/> names the holder in the error a damaged record raises.</summary>
    public static StreamEvent Read(BinaryReader reader, DateTime receivedAt, string where)
    {
        var tag = reader.ReadByte();
        return tag switch
        {
            (byte)'R' => new RowEvent((RowChangeKind)reader.ReadByte(), reader.ReadUInt32(), ReadValues(reader), ReadValues(reader), receivedAt),
            (byte)'L' => ReadRelation(reader, receivedAt),
            (byte)'T' => ReadTruncate(reader, receivedAt),
            _ => throw new InvalidDataException($"{where} is damaged (record type {tag})."),
        };
    }

    private static void WriteValues(BinaryWriter writer, ColumnValue[]? values)
    {
        if (values is null)
        {
            writer.Write(-1);
            return;
        }
        writer.Write(values.Length);
        foreach (var v in values)
        {
            if (v.Unchanged)
            {
                writer.Write((byte)1);
            }
            else if (v.Text is null)
            {
                writer.Write((byte)0);
            }
            else
            {
                writer.Write((byte)2);
                writer.Write(v.Text);
            }
        }
    }

    private static ColumnValue[]? ReadValues(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        if (count < 0)
        {
            return null;
        }
        var values = new ColumnValue[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = reader.ReadByte() switch
            {
                1 => ColumnValue.UnchangedToast,
                0 => ColumnValue.Null,
                _ => new ColumnValue(reader.ReadString(), false),
            };
        }
        return values;
    }

    private static RelationEvent ReadRelation(BinaryReader reader, DateTime receivedAt)
    {
        var id = reader.ReadUInt32();
        var schema = reader.ReadString();
        var name = reader.ReadString();
        var identity = reader.ReadChar();
        var columns = new RelationColumn[reader.ReadInt32()];
        for (var i = 0; i < columns.Length; i++)
        {
            columns[i] = new RelationColumn(reader.ReadString(), reader.ReadUInt32(), reader.ReadBoolean());
        }
        return new RelationEvent(id, schema, name, identity, columns, receivedAt);
    }

    private static TruncateEvent ReadTruncate(BinaryReader reader, DateTime receivedAt)
    {
        var cascade = reader.ReadBoolean();
        var restart = reader.ReadBoolean();
        var ids = new uint[reader.ReadInt32()];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = reader.ReadUInt32();
        }
        return new TruncateEvent(ids, cascade, restart, receivedAt);
    }
}
