using PgShift.Catalog;
using PgShift.Connections;

namespace PgShift.Settings;

/// <summary>
/// The settings of a task's way back (its reverse stream, <c>migrate --reverse</c>, and its cutover, <c>fallback</c>): the
/// forward task's with the servers swapped, its tables under their target names, and its renaming inverted, so that a
/// renamed table's changes go back to its source name and an excluded column is left as the old server has it.
/// </summary>
public static class WayBackSettings
{
    /// <summary>
    /// The reverse task's settings in their stored form, from the forward task's (<paramref name="forward"/>) and the tables it
    /// moved (<paramref name="forwardTables"/>, source names, partitioned roots included): stored with the reverse task on the
    /// old server, so that every later command of the way back reads the same selection, from any machine.
    /// </summary>
    public static TaskFile ReverseFile(TaskFile forward, IEnumerable<QualifiedName> forwardTables)
    {
        var mapping = forward.ToNameMapping();
        var schemas = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (from, to) in mapping.Schemas)
        {
            schemas[to] = from;
        }
        var tables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (from, to) in mapping.Tables)
        {
            tables[mapping.MapTable(from).Quoted] = from.Name;
        }
        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (table, renamed) in mapping.Columns)
        {
            foreach (var (from, to) in renamed)
            {
                columns[mapping.MapTable(table).Quoted + "." + Sql.Ident(to)] = from;
            }
        }
        return new TaskFile
        {
            Types = ["incremental"],
            Jobs = forward.Jobs,
            RetryWindow = forward.RetryWindow,
            OnConflict = forward.OnConflict,
            SplitThresholdMb = forward.SplitThresholdMb,
            LargeObjects = forward.CopiesLargeObjects,
            IncludeTables = forwardTables.Select(t => mapping.MapTable(t).Quoted).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            ExcludeColumns = forward.ToColumnExclusions().All.Select(e => mapping.MapTable(e.Table).Quoted + "." + Sql.Ident(e.ColumnName)).ToList() is { Count: > 0 } excluded ? excluded : null,
            Mapping = schemas.Count + tables.Count + columns.Count == 0 ? null : new TaskFile.MappingSection
            {
                Schemas = schemas.Count > 0 ? schemas : null,
                Tables = tables.Count > 0 ? tables : null,
                Columns = columns.Count > 0 ? columns : null,
            },
        };
    }

    /// <summary>
    /// The way back of task <paramref name="task"/> as it runs: from <paramref name="newServer"/> (the forward task's target) to
    /// <paramref name="oldServer"/> (its source), whose sessions write through the fence that keeps the application out of it.
    /// </summary>
    /// <param name="stored">The reverse task's stored settings (<see cref="ReverseFile"/>).</param>
    /// <param name="given">What this command gives that may tune the stream (jobs, retry window, conflict policy).</param>
    public static TaskSettings Build(ConnectionSpec oldServer, ConnectionSpec newServer, string task, TaskFile stored, TaskFile? given = null)
    {
        var tuning = new TaskFile { Jobs = given?.Jobs, RetryWindow = given?.RetryWindow, OnConflict = given?.OnConflict, SplitThresholdMb = given?.SplitThresholdMb };
        return TaskSettingsBuilder.Build(newServer, oldServer.ThroughFence(), task, tuning, stored) with
        {
            Schema = false,
            Full = false,
            Incremental = true,
            PrepareWayBack = false,
            WayBack = true,
        };
    }
}
