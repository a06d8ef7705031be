using NpgsqlTypes;

namespace PgShift.Stream;

/// <summary>
/// What the reader hands to the applier: PgShift's own copies of pgoutput's messages (Npgsql reuses its
/// message instances), so the two can run at their own pace through a bounded queue.
/// </summary>
public abstract record StreamEvent(DateTime ReceivedAt);

public sealed record BeginEvent(uint Xid, NpgsqlLogSequenceNumber FinalLsn, DateTime CommitTime, DateTime ReceivedAt) : StreamEvent(ReceivedAt);

public sealed record CommitEvent(NpgsqlLogSequenceNumber CommitLsn, NpgsqlLogSequenceNumber EndLsn, DateTime CommitTime, DateTime ReceivedAt) : StreamEvent(ReceivedAt);

public sealed record RelationColumn(string Name, uint TypeOid, bool IsKey);

public sealed record RelationEvent(uint RelationId, string Schema, string Name, char ReplicaIdentity, IReadOnlyList<RelationColumn> Columns, DateTime ReceivedAt)
    : StreamEvent(ReceivedAt);

public enum RowChangeKind
{
    Insert,
    Update,
    Delete,
}

/// <summary>A column value in text form; null for SQL NULL; <see cref="Unchanged"/> for a TOASTed value the update left alone.</summary>
public readonly record struct ColumnValue(string? Text, bool Unchanged)
{
    public static readonly ColumnValue Null = new(null, false);
    public static readonly ColumnValue UnchangedToast = new(null, true);
}

/// <param name="Old">The key (or, for REPLICA IDENTITY FULL, the whole old row); null when the change carries none.</param>
public sealed record RowEvent(RowChangeKind Kind, uint RelationId, ColumnValue[]? Old, ColumnValue[]? New, DateTime ReceivedAt) : StreamEvent(ReceivedAt);

public sealed record TruncateEvent(IReadOnlyList<uint> RelationIds, bool Cascade, bool RestartIdentity, DateTime ReceivedAt) : StreamEvent(ReceivedAt);
