using System.Text;

namespace PgShift.Stream;

/// <summary>
/// The changes of one in-progress source transaction that the server streams before its commit (PostgreSQL 14+,
/// when a transaction outgrows the server's logical_decoding_work_mem): kept in a file, not in memory, until the
/// commit says to apply them (in commit order, like any other transaction) or an abort says to drop them. A
/// subtransaction's abort cuts the file back to where that subtransaction's first change began: every change after
/// it belongs to it or to its own subtransactions. Each record also names its (sub)transaction, so that a
/// subtransaction found aborted only at the commit (the server does not always say so, see
/// <see cref="SubtransactionOutcomes"/>) is left out when the file is read.
/// </summary>
internal sealed class TransactionSpool : IDisposable
{
    private readonly string _path;
    private readonly FileStream _file;
    private readonly BinaryWriter _writer;
    private readonly List<(uint Xid, long Offset)> _subtransactions = [];
    private readonly HashSet<uint> _seen = [];
    /// <summary>Relation messages written under a subtransaction, kept through its abort: later changes of the table need them.</summary>
    private readonly List<(long Offset, RelationEvent Relation)> _relations = [];

    public TransactionSpool(string directory, uint xid)
    {
        _path = Path.Combine(directory, xid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Row values in plain text: readable by this user only.
        _file = new FileStream(_path, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 1 << 16, Options = FileOptions.DeleteOnClose,
            UnixCreateMode = OperatingSystem.IsWindows() ? null : UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        _writer = new BinaryWriter(_file, Encoding.UTF8, leaveOpen: true);
        Xid = xid;
    }

    public uint Xid { get; }

    /// <summary>Creates a directory only its owner can enter (0700), or tightens an existing one: spool files hold row values.</summary>
    internal static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(path, Private);
        if (File.GetUnixFileMode(path) != Private)
        {
            // Made by an older version, or by hand: tighten it (fails loudly if it belongs to someone else).
            File.SetUnixFileMode(path, Private);
        }
    }

    /// <summary>Removes a spool directory and what it holds; one in use or gone is left for the next start.</summary>
    internal static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The next start tries again.
        }
    }

    /// <summary>Bytes the file holds.</summary>
    public long Length => _file.Length;

    public void Write(uint subXid, StreamEvent e)
    {
        if (subXid != Xid && !_subtransactions.Exists(s => s.Xid == subXid))
        {
            _writer.Flush();
            _subtransactions.Add((subXid, _file.Position));
            _seen.Add(subXid);
        }
        if (e is RelationEvent relation && subXid != Xid)
        {
            _writer.Flush();
            _relations.Add((_file.Position, relation));
        }
        _writer.Write(subXid);
        StreamEventCodec.Write(_writer, e);
    }

    /// <summary>The subtransactions whose changes the file holds (those not dropped by an abort).</summary>
    public IReadOnlyCollection<uint> Subtransactions => _seen;

    /// <summary>Drops the changes of an aborted subtransaction (and of the subtransactions it contains).</summary>
    public void AbortSubtransaction(uint subXid)
    {
        var index = _subtransactions.FindIndex(s => s.Xid == subXid);
        if (index < 0)
        {
            return;
        }
        _writer.Flush();
        var cut = _subtransactions[index].Offset;
        _file.SetLength(cut);
        _file.Position = _file.Length;
        foreach (var dropped in _subtransactions.Skip(index))
        {
            _seen.Remove(dropped.Xid);
        }
        _subtransactions.RemoveRange(index, _subtransactions.Count - index);
        var kept = _relations.Where(r => r.Offset >= cut).Select(r => r.Relation).ToList();
        _relations.RemoveAll(r => r.Offset >= cut);
        foreach (var relation in kept)
        {
            Write(Xid, relation);
        }
    }

    /// <summary>
    /// The changes in the order they were written, less those of the <paramref name="aborted"/> subtransactions;
    /// <paramref name="receivedAt"/> stamps them (when they became applicable).
    /// </summary>
    public IEnumerable<StreamEvent> Read(DateTime receivedAt, IReadOnlySet<uint>? aborted = null)
    {
        _writer.Flush();
        var end = _file.Length;
        _file.Position = 0;
        using var reader = new BinaryReader(new BufferedStream(_file, 1 << 16), Encoding.UTF8, leaveOpen: true);
        long position = 0;
        while (position < end)
        {
            var xid = reader.ReadUInt32();
            var e = StreamEventCodec.Read(reader, receivedAt, $"The spool file {_path}");
            position = reader.BaseStream.Position;
            // A Relation message carries no data, only the table's shape, which later changes need whatever their subtransaction.
            if (aborted is null || e is RelationEvent || !aborted.Contains(xid))
            {
                yield return e;
            }
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        _file.Dispose();
    }
}
