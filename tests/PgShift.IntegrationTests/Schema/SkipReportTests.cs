using Microsoft.Extensions.Logging;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Schema;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Schema;

/// <summary>What the schema phase leaves out: said with its reason and what goes with it, even when the task then fails.</summary>
public sealed class SkipReportTests
{
    [Fact]
    public async Task A_table_left_out_takes_its_serial_sequence_and_dependents_along_and_says_so()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA kept; CREATE SCHEMA other;
            CREATE TYPE other.pair AS (a int, b int);
            CREATE TABLE kept.uses_pair (id serial PRIMARY KEY, p other.pair);
            CREATE VIEW kept.pair_ids AS SELECT id FROM kept.uses_pair;
            CREATE TABLE kept.plain (id int PRIMARY KEY);
            """);

        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(b => b.Selection.IncludeSchemas.Add(new NamePattern("kept"))));

        Assert.Equal(["sequence \"kept\".\"uses_pair_id_seq\"", "table \"kept\".\"uses_pair\"", "view \"kept\".\"pair_ids\""],
            pre.Skipped.Select(s => s.Object).Order(StringComparer.Ordinal));
        var warning = Assert.Single(pre.Warnings, w => w.Contains("uses_pair", StringComparison.Ordinal));
        Assert.StartsWith("table \"kept\".\"uses_pair\" is left out (depends on relation \"other\".\"pair\", which is not selected), and with it what depends on it: ",
            warning, StringComparison.Ordinal);
        Assert.Contains("sequence \"kept\".\"uses_pair_id_seq\"", warning, StringComparison.Ordinal);
        Assert.Contains("view \"kept\".\"pair_ids\"", warning, StringComparison.Ordinal);
        Assert.Equal(["plain"], await dbs.TargetRowsAsync("SELECT relname FROM pg_class WHERE relnamespace = 'kept'::regnamespace AND relkind IN ('r', 'S', 'v')"));
    }

    [Fact]
    public async Task What_is_left_out_is_logged_before_a_failure_of_the_schema_phase()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE FUNCTION public.c_func() RETURNS int AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE C;
            CREATE TABLE public.taken (id int PRIMARY KEY);
            """);
        // The target holds a table of that name already: creating it fails the phase.
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "CREATE TABLE public.taken (other text)");
        var logger = new ListLogger();

        await Assert.ThrowsAsync<PgShiftException>(() => new SchemaMigrator(logger).CreatePreDataAsync(dbs.Options(), CancellationToken.None));

        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning
            && e.Message == "function public.c_func() is not migrated: written in C: its shared library cannot be migrated");
    }
}
