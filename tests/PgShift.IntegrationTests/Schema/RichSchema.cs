using System.Runtime.CompilerServices;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>The broad fixture schema (Fixtures/rich_schema.sql), read from the source tree.</summary>
public static class RichSchema
{
    /// <summary>The role the fixture grants to; roles belong to the server, so a target needs it too.</summary>
    public const string ReaderRole = "pgshift_fixture_reader";

    public const string CreateReaderRole = """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgshift_fixture_reader') THEN
                CREATE ROLE pgshift_fixture_reader NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$
        """;

    public static string Sql { get; } = File.ReadAllText(FixturePath());

    public static async Task LoadAsync(TestServer server, string database)
    {
        await server.ExecuteAsync(database, Sql);
    }

    private static string FixturePath([CallerFilePath] string thisFile = "")
    {
        // The tests run where they were built: the fixture sits next to this file. Fall back to walking up
        // from the output folder in case the source path is not where the compiler saw it.
        var candidate = Path.Combine(Path.GetDirectoryName(thisFile) ?? "", "Fixtures", "rich_schema.sql");
        if (File.Exists(candidate))
        {
            return candidate;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            candidate = Path.Combine(dir.FullName, "tests", "PgShift.IntegrationTests", "Schema", "Fixtures", "rich_schema.sql");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException("tests/PgShift.IntegrationTests/Schema/Fixtures/rich_schema.sql not found");
    }
}
