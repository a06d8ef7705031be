using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using PgShift.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// PostgreSQL's own regression database (what `make installcheck` of PostgreSQL 15 leaves: about a thousand relations
/// and every kind of object the server has), built by tests/corpus/regression-db.sh, migrated with schema and data to
/// an empty PostgreSQL 15 and 17. The task must succeed; every table it copies must hold the source's rows; every
/// relation of the source must be on the target unless the task reported it (or the table it belongs to) as left out;
/// and on 15, every difference between the two pg_dump --schema-only outputs (owners and privileges included) must be
/// an object reported as left out, or an inheritance child that PgShift created apart to keep its own column order
/// (every column of it is then local: DDL cannot make an inherited column non-local; pg_dump keeps that and loses the
/// order instead), which the output counts.
/// </summary>
public sealed partial class RegressionDatabaseTests(ITestOutputHelper output)
{
    public static TheoryData<int> Targets => new() { 15, 17 };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task The_regression_database_migrates_with_its_rows_and_every_difference_reported(int targetMajor)
    {
        var source = TestServer.CorpusSource;
        var target = targetMajor == 15 ? TestServer.CorpusTarget15 : TestServer.CorpusTarget17;
        await RequireCorpusAsync(source);
        await CopyRolesAsync(source, target);
        var db = await target.CreateDatabaseAsync("corpus");
        try
        {
            var run = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", "corpus", "--jobs", "2",
                "--source", source.KeywordValue("regression"), "--target", target.KeywordValue(db)], timeout: TimeSpan.FromMinutes(10));
            Assert.True(run.ExitCode == 0, run.All);
            var skipped = await SkippedAsync(target, db);
            output.WriteLine($"{skipped.Count} objects reported as left out");

            var tables = await CompareRowsAsync(source, target, db, skipped);
            output.WriteLine($"{tables} tables with identical rows");
            await CompareRelationsAsync(source, target, db, skipped);
            if (targetMajor == 15)
            {
                await CompareDumpsAsync(source, target, db, skipped);
            }
        }
        finally
        {
            await target.DropDatabaseAsync(db);
        }
    }

    private static async Task RequireCorpusAsync(TestServer source)
    {
        try
        {
            await using var conn = await source.OpenAsync("regression");
        }
        catch (Exception ex) when (ex is InvalidOperationException or PostgresException)
        {
            throw new InvalidOperationException("The regression database is not running. Build and start it with tests/corpus/regression-db.sh start "
                + "and tests/corpus/regression-db.sh targets (scripts/test.sh does), or set PGSHIFT_CORPUS_SOURCE / _TARGET15 / _TARGET17.", ex);
        }
    }

    /// <summary>The roles that own and are granted the regression objects, as pg_dumpall --roles-only would give them.</summary>
    private static async Task CopyRolesAsync(TestServer source, TestServer target)
    {
        var roles = new List<(string Name, bool Login, bool Super)>();
        await using (var conn = await source.OpenAsync("regression"))
        await using (var cmd = new NpgsqlCommand("SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> 'postgres'", conn))
        await using (var rd = await cmd.ExecuteReaderAsync())
        {
            while (await rd.ReadAsync())
            {
                roles.Add((rd.GetString(0), rd.GetBoolean(1), rd.GetBoolean(2)));
            }
        }
        await using var t = await target.OpenAsync();
        foreach (var (name, login, super) in roles)
        {
            await using var cmd = new NpgsqlCommand($"""
                DO $$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {PgShift.Catalog.Sql.Literal(name)}) THEN
                    CREATE ROLE {PgShift.Catalog.Sql.Ident(name)} {(login ? "LOGIN" : "NOLOGIN")} {(super ? "SUPERUSER" : "")};
                  END IF;
                END $$
                """, t);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private sealed record Skip(string Kind, string Schema, string Name);

    /// <summary>What the task reported as left out, read from its state: kind, schema and bare name.</summary>
    private static async Task<List<Skip>> SkippedAsync(TestServer target, string db)
    {
        var list = new List<Skip>();
        await using var conn = await target.OpenAsync(db);
        await using var cmd = new NpgsqlCommand("SELECT object FROM pgshift.skipped_objects WHERE task = 'corpus'", conn);
        await using var rd = await cmd.ExecuteReaderAsync();
        while (await rd.ReadAsync())
        {
            var m = SkippedRegex().Match(rd.GetString(0));
            Assert.True(m.Success, $"cannot read the left-out object '{rd.GetString(0)}'");
            list.Add(new Skip(m.Groups["kind"].Value, m.Groups["schema"].Value, m.Groups["name"].Value));
        }
        return list;
    }

    /// <summary>Every table copied: same row count and digest (columns by name, so that column order is judged by the schema comparison).</summary>
    private static async Task<int> CompareRowsAsync(TestServer source, TestServer target, string db, List<Skip> skipped)
    {
        const string tablesSql = """
            SELECT format('%I.%I', n.nspname, c.relname), n.nspname, c.relname,
                   (SELECT string_agg(format('t.%I', a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift') AND n.nspname !~ '^pg_'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
             ORDER BY 1
            """;
        var tables = new List<(string Name, string Columns)>();
        await using (var conn = await source.OpenAsync("regression"))
        await using (var cmd = new NpgsqlCommand(tablesSql, conn))
        await using (var rd = await cmd.ExecuteReaderAsync())
        {
            while (await rd.ReadAsync())
            {
                if (!skipped.Any(s => s.Kind == "table" && s.Schema == rd.GetString(1) && s.Name == rd.GetString(2)))
                {
                    tables.Add((rd.GetString(0), rd.IsDBNull(3) ? "" : rd.GetString(3)));
                }
            }
        }
        await using var src = await source.OpenAsync("regression");
        await using var tgt = await target.OpenAsync(db);
        var differ = new List<string>();
        foreach (var (name, columns) in tables)
        {
            var sql = $"SELECT count(*)::text || ' ' || coalesce(md5(string_agg(ROW({columns})::text, E'\\n' ORDER BY ROW({columns})::text COLLATE \"C\")), '-') FROM ONLY {name} t";
            var a = await ScalarTextAsync(src, sql);
            var b = await ScalarTextAsync(tgt, sql);
            if (a != b)
            {
                differ.Add($"{name}: source {a}, target {b}");
            }
        }
        Assert.True(differ.Count == 0, $"{differ.Count} of {tables.Count} tables differ:\n" + string.Join("\n", differ));
        return tables.Count;
    }

    /// <summary>Every relation of the source is on the target, unless it (or the table an index belongs to) was reported as left out.</summary>
    private async Task CompareRelationsAsync(TestServer source, TestServer target, string db, List<Skip> skipped)
    {
        const string sql = """
            SELECT n.nspname || '|' || c.relname || '|' || c.relkind::text || '|' || coalesce(tn.nspname || '|' || t.relname, '')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'c') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift') AND n.nspname !~ '^pg_'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            """;
        var onTarget = (await RowsAsync(target, db, sql)).Select(r => string.Join('|', r.Split('|').Take(3))).ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        var explained = 0;
        foreach (var row in await RowsAsync(source, "regression", sql))
        {
            var f = row.Split('|');
            if (onTarget.Contains(string.Join('|', f.Take(3))))
            {
                continue;
            }
            if (skipped.Any(s => s.Schema == f[0] && s.Name == f[1]) || f[3].Length > 0 && skipped.Any(s => s.Schema == f[3] && s.Name == f[4]))
            {
                explained++;
                continue;
            }
            missing.Add($"{f[0]}.{f[1]} (relkind {f[2]})");
        }
        output.WriteLine($"relations missing on the target: {explained} reported as left out, {missing.Count} not");
        Assert.True(missing.Count == 0, "relations missing on the target without a reason:\n" + string.Join("\n", missing));
    }

    /// <summary>pg_dump --schema-only of both, entry by entry: each difference is a left-out object or an inheritance child kept in its own column order.</summary>
    private async Task CompareDumpsAsync(TestServer source, TestServer target, string db, List<Skip> skipped)
    {
        var a = await PgDumpSchema.TakeAsync(source, "regression");
        var b = await PgDumpSchema.TakeAsync(target, db);
        var missing = Minus(a, b);
        var extra = Minus(b, a);
        var unexplained = new List<string>();
        var explainedBySkip = 0;
        var children = 0;
        // Inheritance children (not partitions), by schema and name as pg_dump heads their entries.
        var inheritanceChildren = (await RowsAsync(source, "regression", """
            SELECT DISTINCT n.nspname || '|' || c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT c.relispartition
            """)).ToHashSet(StringComparer.Ordinal);
        foreach (var entry in missing.Select(e => ("missing", e)).Concat(extra.Select(e => ("different", e))))
        {
            var newline = entry.e.IndexOf('\n', StringComparison.Ordinal);
            var header = entry.e[..(newline >= 0 ? newline : entry.e.Length)].Split(" | ");
            var (type, schema, name) = (header[0], header[1], header[2]);
            if (LeftOut(skipped, type, schema, name, entry.e))
            {
                explainedBySkip++;
            }
            else if (type == "TABLE" && inheritanceChildren.Contains($"{schema}|{name}"))
            {
                children++;
            }
            else
            {
                unexplained.Add($"{entry.Item1}: {entry.e}");
            }
        }
        output.WriteLine($"pg_dump entries: source {a.Count}, target {b.Count}; missing on the target {missing.Count}, different or extra {extra.Count}; "
            + $"{explainedBySkip} belong to objects reported as left out");
        output.WriteLine($"  {children} are the two sides of inheritance children that keep their own column order (every column local)");
        Assert.True(unexplained.Count == 0, $"{unexplained.Count} schema differences that no left-out object explains:\n" + string.Join("\n", unexplained));
    }

    /// <summary>Whether a pg_dump entry belongs to an object the task left out (by name, or the table it is on).</summary>
    private static bool LeftOut(List<Skip> skipped, string type, string schema, string name, string entry)
    {
        var bare = BareNameRegex().Match(name).Value;
        return skipped.Any(s => s.Schema == schema && (s.Name == bare || name.StartsWith(s.Name + " ", StringComparison.Ordinal))
            || entry.Contains($" {s.Schema}.{s.Name} ", StringComparison.Ordinal) || entry.Contains($" {s.Schema}.{s.Name}(", StringComparison.Ordinal)
            || entry.Contains($" {s.Schema}.{s.Name}\n", StringComparison.Ordinal) || entry.Contains($" {s.Schema}.{s.Name},", StringComparison.Ordinal)
            || entry.Contains($" {s.Schema}.{s.Name})", StringComparison.Ordinal) || entry.Contains($"({s.Schema}.{s.Name})", StringComparison.Ordinal));
    }

    private static List<string> Minus(List<string> a, List<string> b)
    {
        var left = b.GroupBy(x => x, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var x in a)
        {
            if (left.TryGetValue(x, out var n) && n > 0)
            {
                left[x] = n - 1;
            }
            else
            {
                result.Add(x);
            }
        }
        return result;
    }

    private static async Task<string> ScalarTextAsync(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToString(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture) ?? "";
    }

    private static async Task<List<string>> RowsAsync(TestServer server, string db, string sql)
    {
        var rows = new List<string>();
        await using var conn = await server.OpenAsync(db);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync();
        while (await rd.ReadAsync())
        {
            rows.Add(rd.GetString(0));
        }
        return rows;
    }

    // "table "s"."t"", "function s.f(integer)", "operator "s".<%", "view "s"."v"", "type "s"."t"".
    [GeneratedRegex("""^(?<kind>[a-z ]+?) "?(?<schema>[^".]+)"?\."?(?<name>[^"(]+)"?""")]
    private static partial Regex SkippedRegex();

    [GeneratedRegex(@"^[^ (]+")]
    private static partial Regex BareNameRegex();
}
