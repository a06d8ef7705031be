using System.Diagnostics.CodeAnalysis;
using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Selection;
using PgShift.Settings;

namespace PgShift.Precheck;

/// <summary>The task's settings, for the precheck.</summary>
public sealed record PrecheckOptions : TaskSettings
{
    public PrecheckOptions()
    {
    }

    [SetsRequiredMembers]
    public PrecheckOptions(TaskSettings settings) : base(settings)
    {
    }

    /// <summary>The precheck never waits long for a server: a short connect timeout, no retries.</summary>
    public int ConnectTimeoutSeconds { get; init; } = 10;
}

/// <summary>
/// Runs every check against both servers over read-only sessions, so the precheck cannot change
/// anything on either side.
/// </summary>
/// <param name="stageChecks">Checks that read the source as another stage does (what the schema phase leaves out), given by Tasks.</param>
public sealed class PrecheckRunner(params IPrecheck[] stageChecks)
{
    public static IReadOnlyList<IPrecheck> AllChecks { get; } =
    [
        new SelectionCheck(),
        new ExcludedColumnCheck(),
        new MappingCheck(),
        new VersionCheck(),
        new ServerPairCheck(),
        new WalLevelCheck(),
        new ReplicationCapacityCheck(),
        new SourcePrivilegeCheck(),
        new SchemaCaptureCheck(),
        new RowSecurityCheck(),
        new ReplicaIdentityCheck(),
        new SourceActivityCheck(),
        new UnsupportedObjectsCheck(),
        new LargeObjectCheck(),
        new TargetPrivilegeCheck(),
        new TargetDiskCheck(),
        new TargetConflictCheck(),
        new WayBackCheck(),
    ];

    /// <summary>Runs <paramref name="checks"/> alone (with the connections and the selection they read), not every check.</summary>
    public static Task<PrecheckReport> RunOnlyAsync(PrecheckOptions options, IReadOnlyList<IPrecheck> checks, CancellationToken ct)
        => RunAsync(options, checks, ct);

    public Task<PrecheckReport> RunAsync(PrecheckOptions options, CancellationToken ct) => RunAsync(options, [.. AllChecks, .. stageChecks], ct);

    private static async Task<PrecheckReport> RunAsync(PrecheckOptions options, IReadOnlyList<IPrecheck> checks, CancellationToken ct)
    {
        var results = new List<CheckResult>();
        var source = await ConnectAsync("source", options.Source, options.ConnectTimeoutSeconds, results, ct);
        var target = await ConnectAsync("target", options.Target, options.ConnectTimeoutSeconds, results, ct);
        try
        {
            if (source is null || target is null)
            {
                return new PrecheckReport(results);
            }
            // PgShift's own state schema is never a user's (TableSelection.SystemSchemas), even on a source that has one.
            var sourceTables = (await TableFacts.LoadAsync(source, ct)).Where(t => !TableSelection.IsSystemSchema(t.Name.Schema)).ToList();
            var selected = await SelectedTables.LoadAsync(source, options.Selection, ct);
            var context = new PrecheckContext
            {
                SourceSpec = options.Source,
                TargetSpec = options.Target,
                Source = source,
                Target = target,
                SourceFacts = await ServerFacts.LoadAsync(source, ct),
                TargetFacts = await ServerFacts.LoadAsync(target, ct),
                Tables = sourceTables.Where(t => selected.Contains(t.Oid)).ToList(),
                SourceTables = sourceTables,
                Selection = options.Selection,
                Selected = selected,
                ExcludedColumns = options.ExcludedColumns,
                Mapping = options.Mapping,
                TaskName = options.TaskName,
                Incremental = options.Incremental,
                CopiesLargeObjects = options.Full && options.LargeObjects,
                WayBack = options.PrepareWayBack,
            };
            results.Add(context.Tables.Count == 0
                ? CheckResult.Fail("source.tables", "No table on the source matches the selection.", "Check the include and exclude patterns, and the source database name.")
                : CheckResult.Pass("source.tables", $"{Plural.Of(context.Tables.Count, "table")} selected ({context.DataTables.Count()} holding rows)."));
            foreach (var check in checks)
            {
                results.AddRange(await check.RunAsync(context, ct));
            }
            return new PrecheckReport(results) { Tables = context.Tables.Select(t => t.Name).ToList() };
        }
        finally
        {
            if (source is not null)
            {
                await source.DisposeAsync();
            }
            if (target is not null)
            {
                await target.DisposeAsync();
            }
        }
    }

    private static async Task<NpgsqlConnection?> ConnectAsync(string side, ConnectionSpec spec, int timeoutSeconds, List<CheckResult> results, CancellationToken ct)
    {
        NpgsqlConnection? conn = null;
        try
        {
            conn = await ConnectionOpener.OpenAsync(spec, "pgshift precheck", ct, b => b.Timeout = timeoutSeconds);
            await using (var cmd = new NpgsqlCommand("SET default_transaction_read_only = on; SET statement_timeout = '60s'", conn))
            {
                await cmd.ExecuteNonQueryAsync(ct);
            }
            results.Add(CheckResult.Pass($"{side}.connect", $"Connected to the {side} {spec}."));
            return conn;
        }
        catch (Exception ex) when (ex is ConnectionFailedException or NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or IOException or ArgumentException)
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
            var failure = ex is ConnectionFailedException failed ? failed.Failure : ConnectionFailure.From(ex, spec);
            results.Add(CheckResult.Fail($"{side}.connect", $"Cannot connect to the {side}: {failure.Problem}", failure.Fix));
            return null;
        }
    }
}
