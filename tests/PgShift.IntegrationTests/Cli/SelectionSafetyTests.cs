using System.Text.Json;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// Selections that would silently move the wrong data are refused by the precheck, and so by migrate for a new task,
/// before anything is created on either server: patterns that match nothing, excluded columns that do not exist or that a
/// key, the replica identity index, a generated column or a view needs. Quoted identifiers select what SQL would.
/// </summary>
public abstract class SelectionSafetyTestsBase(ServerPair pair)
{
    private string[] Servers => ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb)];

    private async Task<PgShiftProcess.Result> MigrateRefusedAsync(string task, params string[] args)
    {
        var before = (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb));
        var result = await PgShiftProcess.RunAsync(["migrate", .. Servers, "--task", task, .. args]);
        Assert.True(result.ExitCode == 1, result.All);
        Assert.Contains("The precheck failed, so task " + task + " did not start", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb)));
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"));
        return result;
    }

    [Fact]
    public async Task Patterns_that_match_nothing_fail_the_precheck_and_migrate_does_not_start()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE SCHEMA sel; CREATE TABLE sel.keep (id int PRIMARY KEY, ssn text); CREATE TABLE sel."Mixed" (id int PRIMARY KEY);
            """);
        async Task<List<(string? Id, string Message, string Fix)>> FailedChecksAsync(params string[] selection)
        {
            var precheck = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--include-schema", "sel", .. selection, "--json"]);
            Assert.True(precheck.ExitCode == 1, precheck.All);
            using var doc = JsonDocument.Parse(precheck.Stdout);
            return doc.RootElement.GetProperty("checks").EnumerateArray().Where(c => c.GetProperty("status").GetString() == "failed")
                .Select(c => (c.GetProperty("id").GetString(), c.GetProperty("message").GetString()!, c.GetProperty("fix").GetString()!)).ToList();
        }
        var failed = await FailedChecksAsync("--exclude-table", "nosuch", "--exclude-schema", "scratch_typo", "--exclude-column", "sel.keep.snn");
        Assert.Contains(failed, c => c.Id == "source.selection" && c.Message.Contains("--exclude-table 'nosuch' matches no table on the source", StringComparison.Ordinal));
        Assert.Contains(failed, c => c.Id == "source.selection" && c.Message.Contains("--exclude-schema 'scratch_typo' matches no schema", StringComparison.Ordinal));
        var mixed = Assert.Single(await FailedChecksAsync("--include-table", "mixed"), c => c.Id == "source.selection");
        Assert.Contains("--include-table 'mixed' matches no table in the selected schemas (but \"sel\".\"Mixed\" would, ignoring case)", mixed.Message, StringComparison.Ordinal);
        Assert.Contains("double-quoted", mixed.Fix, StringComparison.Ordinal);
        var column = Assert.Single(failed, c => c.Id == "source.excluded_columns");
        Assert.Contains("table \"sel\".\"keep\" has no column \"snn\" (its columns: \"id\", \"ssn\")", column.Message, StringComparison.Ordinal);

        var refused = await MigrateRefusedAsync("sel_typo", "--include-schema", "sel", "--exclude-column", "sel.keep.snn");
        Assert.Contains("[source.excluded_columns]", refused.Stderr, StringComparison.Ordinal);
        refused = await MigrateRefusedAsync("sel_typo", "--include-schema", "sel", "--exclude-table", "sel.kep");
        Assert.Contains("--exclude-table 'sel.kep' matches no table", refused.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quoted_identifiers_select_the_tables_sql_would_name_and_globs_still_work()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE SCHEMA "Quo Ted"; CREATE TABLE "Quo Ted"."T.1" (id int PRIMARY KEY); CREATE TABLE "Quo Ted"."we""ird" (id int PRIMARY KEY);
            CREATE TABLE "Quo Ted".plain_a (id int PRIMARY KEY); CREATE TABLE "Quo Ted".plain_b (id int PRIMARY KEY);
            """);
        async Task<long> SelectedAsync(params string[] selection)
        {
            var r = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--include-schema", "\"Quo Ted\"", .. selection, "--json"]);
            using var doc = JsonDocument.Parse(r.Stdout);
            var tables = doc.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("id").GetString() == "source.tables");
            Assert.True(tables.GetProperty("status").GetString() == "passed", r.All);
            Assert.DoesNotContain(doc.RootElement.GetProperty("checks").EnumerateArray(), c => c.GetProperty("id").GetString() == "source.selection" && c.GetProperty("status").GetString() != "passed");
            return long.Parse(tables.GetProperty("message").GetString()!.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(4, await SelectedAsync());
        Assert.Equal(3, await SelectedAsync("--exclude-table", "\"we\"\"ird\""));
        Assert.Equal(1, await SelectedAsync("--include-table", "\"Quo Ted\".\"T.1\""));
        Assert.Equal(2, await SelectedAsync("--include-table", "plain_*"));
        Assert.Equal(2, await SelectedAsync("--exclude-table", "\"Quo Ted\".plain_?"));

        var bad = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--exclude-table", "\"we\"\"ird"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("has a double quote that is not closed", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Excluding_a_column_that_something_needs_is_refused_before_anything_is_created()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE SCHEMA need;
            CREATE TABLE need.t (id int PRIMARY KEY, u int NOT NULL, a int, g int GENERATED ALWAYS AS (a * 2) STORED, b int, free text);
            CREATE UNIQUE INDEX t_u ON need.t (u); ALTER TABLE need.t REPLICA IDENTITY USING INDEX t_u;
            CREATE TABLE need.r (k int NOT NULL, v text); CREATE UNIQUE INDEX r_k ON need.r (k); ALTER TABLE need.r REPLICA IDENTITY USING INDEX r_k;
            CREATE VIEW need.v AS SELECT id, b FROM need.t;
            """);
        string[] need = ["--include-schema", "need"];

        var key = await MigrateRefusedAsync("need_key", [.. need, "--exclude-column", "need.t.id"]);
        Assert.Contains("Column \"id\" of \"need\".\"t\" cannot be left out: it is in the primary key \"t_pkey\"", key.Stderr, StringComparison.Ordinal);
        Assert.Contains("A key column cannot be left out", key.Stderr, StringComparison.Ordinal);

        var identity = await MigrateRefusedAsync("need_ri", [.. need, "--exclude-column", "need.r.k"]);
        Assert.Contains("Column \"k\" of \"need\".\"r\" cannot be left out: it is in \"r_k\", the index used as the table's replica identity", identity.Stderr, StringComparison.Ordinal);

        var generated = await MigrateRefusedAsync("need_gen", [.. need, "--exclude-column", "need.t.a"]);
        Assert.Contains("the generated column \"g\" is computed from it", generated.Stderr, StringComparison.Ordinal);
        Assert.Contains("--exclude-column \"need\".\"t\".\"g\" as well", generated.Stderr, StringComparison.Ordinal);

        var view = await MigrateRefusedAsync("need_view", [.. need, "--exclude-column", "need.t.b"]);
        Assert.Contains("the view \"need\".\"v\" reads it", view.Stderr, StringComparison.Ordinal);
        Assert.Contains("--exclude-schema \"need\"", view.Stderr, StringComparison.Ordinal);

        // What nothing needs may be left out, and so may a generated column together with what it is computed from.
        var fine = await PgShiftProcess.RunAsync(["precheck", .. Servers, .. need, "--exclude-column", "need.t.free", "--exclude-column", "need.t.a", "--exclude-column", "need.t.g"]);
        Assert.True(fine.ExitCode == 0, fine.All);
        Assert.Contains("passed   source.excluded_columns", fine.Stdout, StringComparison.Ordinal);
    }
}

public sealed class SelectionSafetyTests_12_to_17(Pg12To17 pair) : SelectionSafetyTestsBase(pair), IClassFixture<Pg12To17>;

public sealed class SelectionSafetyTests_15_to_17(Pg15To17 pair) : SelectionSafetyTestsBase(pair), IClassFixture<Pg15To17>;
