using System.Text.Json;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// Renames that name nothing (a typo, a table left out of the selection, an excluded column) or that would give two
/// objects one name on the target fail the precheck, and so stop migrate before it changes anything; renames that hold
/// pass, and the migrated table carries them.
/// </summary>
public sealed class MappingCheckTests(Pg15To17 pair) : IClassFixture<Pg15To17>
{
    private string[] Servers => ["--source", pair.Source.KeywordValue(pair.SourceDb), "--target", pair.Target.KeywordValue(pair.TargetDb)];

    private static string TaskFile(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pgshift-mapping-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public async Task Renames_that_name_nothing_or_collide_fail_the_precheck_and_those_that_hold_are_migrated()
    {
        await pair.Source.ExecuteAsync(pair.SourceDb, """
            CREATE SCHEMA ren; CREATE TABLE ren.orders (id int PRIMARY KEY, total numeric, "Note" text, secret text);
            CREATE TABLE ren.items (id int PRIMARY KEY, qty int); CREATE TABLE ren.other (id int PRIMARY KEY);
            INSERT INTO ren.orders VALUES (1, 9.5, 'n', 's'); INSERT INTO ren.items VALUES (1, 3);
            """);
        var bad = TaskFile("""
            include_schemas: [ren]
            exclude_tables: [ren.other]
            exclude_columns: [ren.orders.secret]
            mapping:
              schemas: { rne: shop }
              tables: { ren.ordres: o2, ren.other: o3, ren.orders: lines, ren.items: lines }
              columns: { ren.orders.note: remark, ren.orders.secret: hidden, ren.orders.total: id }
            """);
        var precheck = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--task-file", bad, "--json"]);
        Assert.True(precheck.ExitCode == 1, precheck.All);
        using (var doc = JsonDocument.Parse(precheck.Stdout))
        {
            var failed = doc.RootElement.GetProperty("checks").EnumerateArray()
                .Where(c => c.GetProperty("status").GetString() == "failed" && c.GetProperty("id").GetString() == "source.mapping")
                .Select(c => c.GetProperty("message").GetString()!).ToList();
            Assert.Contains(failed, m => m.Contains("mapping.schemas \"rne\": there is no schema \"rne\" on the source", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("there is no table \"ren\".\"ordres\" on the source", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("table \"ren\".\"other\" is not selected, so renaming it changes nothing", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("table \"ren\".\"orders\" has no column \"note\"", StringComparison.Ordinal) && m.Contains("\"Note\"", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("\"ren\".\"orders\".\"secret\": the column is excluded", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("\"ren\".\"items\", \"ren\".\"orders\" would all become \"ren\".\"lines\"", StringComparison.Ordinal)
                || m.Contains("\"ren\".\"orders\", \"ren\".\"items\" would all become \"ren\".\"lines\"", StringComparison.Ordinal));
            Assert.Contains(failed, m => m.Contains("columns \"id\", \"total\" of \"ren\".\"orders\" would all become \"id\"", StringComparison.Ordinal));
        }

        // migrate refuses to start a task with it, and changes nothing on either server.
        var before = (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb));
        var refused = await PgShiftProcess.RunAsync(["migrate", .. Servers, "--task", "ren_bad", "--task-file", bad]);
        Assert.True(refused.ExitCode == 1, refused.All);
        Assert.Contains("[source.mapping]", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, (await CatalogFingerprint.TakeAsync(pair.Source, pair.SourceDb), await CatalogFingerprint.TakeAsync(pair.Target, pair.TargetDb)));

        var good = TaskFile("""
            include_schemas: [ren]
            exclude_tables: [ren.other]
            exclude_columns: [ren.orders.secret]
            mapping:
              schemas: { ren: shop }
              tables: { ren.orders: order_lines }
              columns: { 'ren.orders."Note"': remark }
            """);
        var fine = await PgShiftProcess.RunAsync(["precheck", .. Servers, "--task-file", good]);
        Assert.True(fine.ExitCode == 0, fine.All);
        Assert.Contains("passed   source.mapping", fine.Stdout, StringComparison.Ordinal);
        var migrate = await PgShiftProcess.RunAsync(["migrate", .. Servers, "--task", "ren_good", "--types", "schema,full", "--task-file", good], timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);
        Assert.Equal("n", await pair.Target.ScalarAsync<string>(pair.TargetDb, "SELECT remark FROM shop.order_lines WHERE id = 1"));
        Assert.Equal(3, await pair.Target.ScalarAsync<int>(pair.TargetDb, "SELECT qty FROM shop.items WHERE id = 1"));
        File.Delete(bad);
        File.Delete(good);
    }
}
