using Npgsql;
using PgShift.Catalog;
using PgShift.Replication;

namespace PgShift.Stream;

/// <summary>
/// What the stream needs to follow a captured schema change that it cannot do alone (the statements are the schema
/// stage's, a table joining the task is copied by the copy stage): given by Tasks, which knows every stage.
/// </summary>
public interface ISchemaChangeFollower
{
    /// <summary>The target's statements for a change, under the task's selection and mapping.</summary>
    SchemaChangePlan Plan(CapturedSchemaChange change, Func<QualifiedName, bool> isTaskTable, Func<QualifiedName, bool> applies);

    /// <summary>A task table after a change of its name or columns, as the stream applies to it (read in the apply transaction).</summary>
    Task<StreamTable> ReshapeAsync(StreamTable table, CapturedTable after, NpgsqlConnection target, CancellationToken ct);

    /// <summary>
    /// Tables that join the task (or were rewritten on the source), by source oid: added to the publication, created on the
    /// target as they are at a snapshot of their own, copied from it (their sync LSN is its position) and given their
    /// keys and indexes; returns them as the stream applies to them (none for a table gone or not selected).
    /// </summary>
    Task<IReadOnlyList<StreamTable>> BringInAsync(IReadOnlyCollection<uint> oids, CancellationToken ct);
}
