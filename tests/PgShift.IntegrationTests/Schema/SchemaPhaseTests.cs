using Microsoft.Extensions.Logging.Abstractions;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Schema;

namespace PgShift.IntegrationTests.Schema;

/// <summary>What each phase builds, that a re-run is safe, and that a failure leaves nothing half-made.</summary>
public sealed class SchemaPhaseTests
{
    /// <summary>Keys, unique and exclusion constraints, foreign keys, indexes and triggers on user tables, one line each.</summary>
    private const string PostDataObjects = """
        SELECT 'constraint ' || c.contype::text || ' ' || c.conrelid::regclass::text || ' ' || quote_ident(c.conname)
          FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
         WHERE c.contype IN ('p', 'u', 'f', 'x') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
        UNION ALL
        SELECT 'index ' || i.indrelid::regclass::text || ' ' || quote_ident(ic.relname)
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift', 'pg_toast')
        UNION ALL
        SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || quote_ident(t.tgname) || ' ' || t.tgenabled::text
          FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
         WHERE NOT t.tgisinternal AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
           -- a partition's clone of its parent's trigger: internal on 12, a partition dependency on 13+
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype IN ('P', 'I'))
        ORDER BY 1
        """;

    [Fact]
    public async Task Pre_data_builds_no_keys_indexes_or_triggers_and_post_data_builds_all_of_them()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg12, TestServer.Pg17);
        var options = dbs.Options();
        var migrator = new SchemaMigrator(NullLogger.Instance);

        await migrator.CreatePreDataAsync(options, CancellationToken.None);
        var afterPre = await dbs.TargetRowsAsync(PostDataObjects);
        Assert.True(afterPre.Count == 0, "after pre-data the target already has:\n" + string.Join("\n", afterPre));
        // CHECK constraints belong to the table's definition: they are there already.
        const string checks = "SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint WHERE contype = 'c' AND conrelid <> 0 AND connamespace::regnamespace::text NOT IN ('pgshift') ORDER BY 1";
        Assert.Equal(await dbs.SourceRowsAsync(checks), await dbs.TargetRowsAsync(checks));
        Assert.Equal("false", (await dbs.TargetRowsAsync("SELECT relispopulated::text FROM pg_class WHERE oid = 'app.customer_totals'::regclass"))[0]);

        await migrator.CreatePostDataAsync(options, CancellationToken.None);
        var source = await dbs.SourceRowsAsync(PostDataObjects);
        Assert.True(source.Count > 40, "the fixture has keys, indexes and triggers");
        var diff = LineDiff.Describe(source, await dbs.TargetRowsAsync(PostDataObjects), "source", "target");
        Assert.True(diff.Length == 0, "after post-data:\n" + diff);
        Assert.Equal("true", (await dbs.TargetRowsAsync("SELECT relispopulated::text FROM pg_class WHERE oid = 'app.customer_totals'::regclass"))[0]);
    }

    [Fact]
    public async Task Running_both_phases_again_creates_nothing_and_changes_nothing()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        var options = dbs.Options();
        await MigrationDatabases.MigrateAsync(options);
        var first = await CatalogDescription.TakeAsync(dbs.Target, dbs.TargetDb);

        var (pre, post) = await MigrationDatabases.MigrateAsync(options);

        Assert.True(pre.Created.Count == 0, "second pre-data run created: " + string.Join(", ", pre.Created));
        Assert.True(post.Created.Count == 0, "second post-data run created: " + string.Join(", ", post.Created));
        var diff = LineDiff.Describe(first, await CatalogDescription.TakeAsync(dbs.Target, dbs.TargetDb), "first run", "second run");
        Assert.True(diff.Length == 0, "the second run changed the target:\n" + diff);
        var fromSource = CatalogDescription.Differences(await CatalogDescription.TakeAsync(dbs.Source, dbs.SourceDb), first);
        Assert.True(fromSource.Length == 0, "the target differs from the source:\n" + fromSource);
    }

    public static TheoryData<string, string, string> Conflicts => new()
    {
        // A type already in the schema that "app" is mapped to.
        { "shop", "CREATE SCHEMA shop; CREATE TYPE shop.order_status AS ENUM ('x')", "order_status" },
        // A type already in a schema of the same name.
        { "", "CREATE SCHEMA app; CREATE TYPE app.address AS (x integer)", "address" },
    };

    [Theory]
    [MemberData(nameof(Conflicts))]
    public async Task Failing_statement_is_named_with_the_server_error_and_nothing_of_the_phase_is_kept(string mapAppTo, string targetSql, string conflicting)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        await dbs.Target.ExecuteAsync(dbs.TargetDb, targetSql);
        var before = await CatalogFingerprint.TakeAsync(dbs.Target, dbs.TargetDb);
        var options = dbs.Options(o =>
        {
            if (mapAppTo.Length > 0)
            {
                o.Mapping.Schemas["app"] = mapAppTo;
            }
        });

        var ex = await Assert.ThrowsAsync<PgShiftException>(() => new SchemaMigrator(NullLogger.Instance).CreatePreDataAsync(options, CancellationToken.None));

        Assert.Contains(conflicting, ex.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", ex.Message, StringComparison.Ordinal);
        // Relations, schemas (PgShift's state schema too), extensions and functions are as they were.
        Assert.Equal(before, await CatalogFingerprint.TakeAsync(dbs.Target, dbs.TargetDb));
    }

    [Fact]
    public async Task C_functions_and_views_using_them_are_skipped_with_a_reason_and_the_rest_is_migrated()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17);
        // A C function outside any extension, borrowing a symbol of citext's library.
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE FUNCTION app.c_hash(text) RETURNS integer AS '$libdir/citext', 'citext_hash' LANGUAGE c IMMUTABLE STRICT;
            CREATE VIEW app.customer_hashes AS SELECT id, app.c_hash(name) AS h FROM app.customers;
            """);

        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Contains(pre.Skipped, s => s.Object.Contains("c_hash", StringComparison.Ordinal) && s.Reason.Contains('C', StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object.Contains("customer_hashes", StringComparison.Ordinal));
        Assert.Empty(await dbs.TargetRowsAsync("SELECT oid FROM pg_proc WHERE proname = 'c_hash'"));
        Assert.Equal("<null>", (await dbs.TargetRowsAsync("SELECT to_regclass('app.customer_hashes')::text"))[0]);
        static bool SkippedByDesign(string line) => line.Contains("c_hash", StringComparison.Ordinal) || line.Contains("customer_hashes", StringComparison.Ordinal);
        var source = (await CatalogDescription.TakeAsync(dbs.Source, dbs.SourceDb)).Where(l => !SkippedByDesign(l)).ToList();
        var diff = CatalogDescription.Differences(source, await CatalogDescription.TakeAsync(dbs.Target, dbs.TargetDb));
        Assert.True(diff.Length == 0, "apart from the skipped objects, the target differs from the source:\n" + diff);
    }
}
