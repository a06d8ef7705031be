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
    /// A table that joins the task (or was rewritten on the source), by source oid: added to the publication, created on
    /// the target as it is at a snapshot of its own (or, with <paramref name="current"/>, its shape on the target, altered
    /// to that one), copied from it (its sync LSN is the snapshot's position) and given its keys and indexes; returns it as
    /// the stream applies to it (nothing for a table gone, not selected, or partitioned).
    /// </summary>
    Task<IReadOnlyList<StreamTable>> BringInAsync(uint oid, CapturedTable? current, CancellationToken ct);
}
