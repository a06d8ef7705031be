using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Schema;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// A source database loaded with the rich fixture and an empty target database, for one test, dropped
/// afterwards. Schema tests each need an untouched target (a migration leaves its objects and its task
/// state there), so unlike the precheck tests they cannot share the class's databases.
/// </summary>
public sealed class MigrationDatabases : IAsyncDisposable
{
    private MigrationDatabases(TestServer source, string sourceDb, TestServer target, string targetDb)
    {
        Source = source;
        SourceDb = sourceDb;
        Target = target;
        TargetDb = targetDb;
    }

    public TestServer Source { get; }
    public string SourceDb { get; }
    public TestServer Target { get; }
    public string TargetDb { get; }

    public static async Task<MigrationDatabases> CreateAsync(TestServer source, TestServer target, bool loadFixture = true)
    {
        var sourceDb = await source.CreateDatabaseAsync($"schsrc{source.Major}");
        var targetDb = await target.CreateDatabaseAsync($"schtgt{target.Major}");
        var dbs = new MigrationDatabases(source, sourceDb, target, targetDb);
        await target.ExecuteAsync(targetDb, RichSchema.CreateReaderRole);
        if (loadFixture)
        {
            await RichSchema.LoadAsync(source, sourceDb);
        }
        return dbs;
    }

    public SchemaMigrationOptions Options(Action<SchemaMigrationOptionsBuilder>? configure = null)
    {
        var b = new SchemaMigrationOptionsBuilder();
        configure?.Invoke(b);
        return new SchemaMigrationOptions
        {
            Source = Source.Spec(SourceDb),
            Target = Target.Spec(TargetDb),
            TaskName = "default",
            Selection = b.Selection,
            ExcludedColumns = b.ExcludedColumns,
            Mapping = b.Mapping,
            Jobs = 3,
        };
    }

    public static async Task<(SchemaReport Pre, SchemaReport Post)> MigrateAsync(SchemaMigrationOptions options)
    {
        var migrator = new SchemaMigrator(NullLogger.Instance);
        var pre = await migrator.CreatePreDataAsync(options, CancellationToken.None);
        var post = await migrator.CreatePostDataAsync(options, CancellationToken.None);
        return (pre, post);
    }

    /// <summary>pgshift migrate --types schema,full of the source database into the target one, as a user runs it.</summary>
    public Task<PgShiftProcess.Result> MigrateWithPgShiftAsync(string task) => PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", task,
        "--source", Source.KeywordValue(SourceDb), "--target", Target.KeywordValue(TargetDb)], timeout: TimeSpan.FromMinutes(3));

    /// <summary>SQL that creates the NOLOGIN roles that do not exist yet (roles are the server's: tests share them).</summary>
    public static string CreateRoles(params string[] roles) => string.Concat(roles.Select(r => $"""
        DO $$
        BEGIN
            CREATE ROLE {r} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$;
        """));

    public Task<List<string>> SourceRowsAsync(string sql) => RowsAsync(Source, SourceDb, sql);

    public Task<List<string>> TargetRowsAsync(string sql) => RowsAsync(Target, TargetDb, sql);

    /// <summary>The first column of every row, as text.</summary>
    public static async Task<List<string>> RowsAsync(TestServer server, string database, string sql)
    {
        await using var conn = await server.OpenAsync(database);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.IsDBNull(0) ? "<null>" : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DropDatabaseAsync(SourceDb);
        await Target.DropDatabaseAsync(TargetDb);
    }
}

/// <summary>What a test changes in the options: selection, excluded columns, name mapping.</summary>
public sealed class SchemaMigrationOptionsBuilder
{
    public PgShift.Selection.TableSelection Selection { get; } = new();
    public PgShift.Selection.ColumnExclusions ExcludedColumns { get; } = new();
    public PgShift.Selection.NameMapping Mapping { get; } = new();
}
