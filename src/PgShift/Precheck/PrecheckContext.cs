using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Selection;

namespace PgShift.Precheck;

/// <summary>What every check reads: both servers' facts, the selected tables, and open (read-only) connections.</summary>
public sealed class PrecheckContext
{
    public required ConnectionSpec SourceSpec { get; init; }
    public required ConnectionSpec TargetSpec { get; init; }
    public required NpgsqlConnection Source { get; init; }
    public required NpgsqlConnection Target { get; init; }
    public required ServerFacts SourceFacts { get; init; }
    public required ServerFacts TargetFacts { get; init; }
    /// <summary>The selected tables (<see cref="Selected"/>): a partition with its root, under its own name.</summary>
    public required IReadOnlyList<TableFacts> Tables { get; init; }
    /// <summary>Every user table of the source, selected or not: what the include and exclude patterns are matched against.</summary>
    public required IReadOnlyList<TableFacts> SourceTables { get; init; }
    /// <summary>The patterns as given: what <see cref="SelectionCheck"/> checks against the source's names.</summary>
    public required TableSelection Selection { get; init; }
    /// <summary>Which relations the task moves, the answer every stage uses.</summary>
    public required SelectedTables Selected { get; init; }
    public required ColumnExclusions ExcludedColumns { get; init; }
    /// <summary>The renames on the target: what <see cref="MappingCheck"/> checks against the selected tables.</summary>
    public required NameMapping Mapping { get; init; }
    public required string TaskName { get; init; }
    public required bool Incremental { get; init; }
    /// <summary>The task copies the database's large objects (a full copy, and they are selected).</summary>
    public bool CopiesLargeObjects { get; init; }
    /// <summary>The cutover prepares the way back (<see cref="WayBackCheck"/>).</summary>
    public bool WayBack { get; init; }

    /// <summary>Replication slots and WAL senders a task may hold at once: its slot, plus a temporary one for a resumed copy or a verify.</summary>
    public int SlotsNeeded => Incremental ? 2 : 1;

    /// <summary>Leaf tables: the ones that hold rows (partitioned parents hold none).</summary>
    public IEnumerable<TableFacts> DataTables => Tables.Where(t => !t.IsPartitioned);

    public async Task<List<T>> QuerySourceAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct)
        => await QueryAsync(Source, sql, read, ct);

    public async Task<List<T>> QueryTargetAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct)
        => await QueryAsync(Target, sql, read, ct);

    private static async Task<List<T>> QueryAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        var list = new List<T>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(read(rd));
        }
        return list;
    }
}

/// <summary>One concern of the precheck. Reads only; never changes either server.</summary>
public interface IPrecheck
{
    Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct);
}
