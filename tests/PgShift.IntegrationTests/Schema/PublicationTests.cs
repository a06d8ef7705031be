using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// The source's publications (FOR ALL TABLES, FOR TABLE with column lists and row filters, FOR TABLES IN SCHEMA, their
/// publish options) migrate as on the source, PgShift's own task publications not; only selected tables are published,
/// an excluded column leaves a column list, and a row filter on it is reported skipped.
/// </summary>
public sealed class PublicationTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string Fixture = """
        CREATE SCHEMA pb;
        CREATE TABLE pb.a (id int PRIMARY KEY, v int, w text);
        CREATE TABLE pb.b (id int PRIMARY KEY);
        CREATE TABLE pb.parted (id int, k int) PARTITION BY RANGE (k);
        CREATE TABLE pb.parted_1 PARTITION OF pb.parted FOR VALUES FROM (0) TO (10);
        CREATE PUBLICATION pub_all FOR ALL TABLES WITH (publish = 'insert, update');
        CREATE PUBLICATION "Pub Some" FOR TABLE pb.a, pb.b;
        CREATE PUBLICATION pgshift_another_task FOR TABLE pb.a;
        """;

    private const string Since15 = """
        ALTER PUBLICATION "Pub Some" SET (publish_via_partition_root = true);
        CREATE PUBLICATION pub_parted FOR TABLE pb.parted;
        CREATE PUBLICATION pub_filtered FOR TABLE pb.a (id, v, w) WHERE (v > 0), TABLE pb.b;
        CREATE PUBLICATION pub_cols FOR TABLE pb.a (id, w);
        CREATE PUBLICATION pub_schema FOR TABLES IN SCHEMA pb WITH (publish = 'delete');
        """;

    /// <summary>The publications, their tables (with column list and row filter from 15) and schemas (15+), as text comparable between majors.</summary>
    private static string Publications(int major) => $"""
        SELECT 'pub ' || p.pubname || ' all=' || p.puballtables || ' ' || p.pubinsert || p.pubupdate || p.pubdelete || p.pubtruncate
               || ' root=' || coalesce(to_jsonb(p) ->> 'pubviaroot', 'false') FROM pg_publication p
        UNION ALL
        SELECT 'rel ' || p.pubname || ' ' || pr.prrelid::regclass::text
               || {(major >= 15 ? "' ' || coalesce(pr.prattrs::text, '-') || ' ' || coalesce(pg_get_expr(pr.prqual, pr.prrelid), '-')" : "' - -'")}
          FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
        {(major >= 15 ? "UNION ALL SELECT 'schema ' || p.pubname || ' ' || n.nspname FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid" : "")}
        ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Publications_migrate_as_on_the_source_without_pgshifts_own(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + (dbs.Source.Major >= 15 ? Since15 : ""));

        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Empty(pre.Skipped);
        Assert.Empty(pre.Warnings);
        var source = (await dbs.SourceRowsAsync(Publications(dbs.Source.Major))).Where(r => !r.Contains("pgshift_another_task", StringComparison.Ordinal)).ToList();
        if (dbs.Source.Major >= 15)
        {
            Assert.Contains("pub Pub Some all=false truetruetruetrue root=true", source);
            Assert.Contains("rel pub_filtered pb.a 1 2 3 (v > 0)", source);
            Assert.Contains("schema pub_schema pb", source);
        }
        Assert.Equal(source, await dbs.TargetRowsAsync(Publications(dbs.Target.Major)));
    }

    [Fact]
    public async Task Only_selected_tables_are_published_and_an_excluded_column_leaves_a_column_list_or_skips_its_row_filter()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, Fixture + Since15 + """
            CREATE PUBLICATION pub_on_w FOR TABLE pb.a WHERE (w <> ''), TABLE pb.parted;
            CREATE PUBLICATION pub_listed_w FOR TABLE pb.a (id, w) WHERE (w IS NOT NULL);
            """);
        var a = new QualifiedName("pb", "a");
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options(o =>
        {
            o.Selection.ExcludeTables.Add(new NamePattern("pb.b"));
            o.ExcludedColumns.Add("pb.a.w");
            o.Mapping.Tables[a] = "alpha";
        }));

        var target = await dbs.TargetRowsAsync(Publications(17));
        Assert.Equal([
            "pub Pub Some all=false truetruetruetrue root=true",
            "pub pub_all all=true truetruefalsefalse root=false",
            "pub pub_cols all=false truetruetruetrue root=false",
            "pub pub_filtered all=false truetruetruetrue root=false",
            "pub pub_listed_w all=false truetruetruetrue root=false",
            "pub pub_on_w all=false truetruetruetrue root=false",
            "pub pub_parted all=false truetruetruetrue root=false",
            "pub pub_schema all=false falsefalsetruefalse root=false",
            "rel Pub Some pb.alpha - -",
            "rel pub_cols pb.alpha 1 -",
            "rel pub_filtered pb.alpha 1 2 (v > 0)",
            "rel pub_on_w pb.parted - -",
            "rel pub_parted pb.parted - -",
            "schema pub_schema pb",
        ], target);
        Assert.Equal([
            ("table \"pb\".\"a\" in publication \"pub_listed_w\"", "its row filter uses column \"w\", which is excluded"),
            ("table \"pb\".\"a\" in publication \"pub_on_w\"", "its row filter uses column \"w\", which is excluded"),
        ], pre.Skipped.OrderBy(s => s.Object, StringComparer.Ordinal));
    }
}
