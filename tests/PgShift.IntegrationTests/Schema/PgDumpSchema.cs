using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// A database's schema as pg_dump writes it (<c>--schema-only</c>, owners and privileges included),
/// cut into its TOC entries (one per object: "-- Name: ...; Type: ...; Schema: ..."), each normalised,
/// so that two databases can be compared as multisets of entries.
///
/// Legitimate differences that are removed: the order of entries (pg_dump orders by type, name and
/// dependencies; a target built in another order or with other oids can tie-break differently, and any
/// order that loaded is a valid one), comments, SET and set_config lines, the per-dump \restrict key,
/// the order of GRANT lines within one ACL entry (the aclitem order follows the order of the GRANTs),
/// PgShift's own <c>pgshift</c> state schema, and what pg_dump 15 prints differently for a 12 and a 15
/// server: the public schema's entry, owner and ACL (15 changed their defaults), <c>multirange_type_name</c>
/// (ranges have multiranges from 14 on), and the IN that 14+ prints before a procedure's arguments.
/// Everything else must be equal, including column order, constraint names, index definitions,
/// trigger enable states, comments and grants.
/// </summary>
public static partial class PgDumpSchema
{
    /// <summary>Debian's pg_dump 15; it can dump servers up to 15, not 17.</summary>
    public const string PgDump = "/usr/bin/pg_dump";

    public static async Task<List<string>> TakeAsync(TestServer server, string database)
    {
        var psi = new ProcessStartInfo(PgDump) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--schema-only", "-h", server.Host, "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", "-d", database })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["PGCONNECT_TIMEOUT"] = "10";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {PgDump}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_dump of {database} on {server} failed ({p.ExitCode}): {await stderr}");
        }
        return Entries(await stdout);
    }

    /// <summary>
    /// pg_dump --schema-only of both sides is the same, without PgShift's own objects (its state on the target, the
    /// capture of schema changes on the source): what a stream that followed schema changes must leave.
    /// </summary>
    public static async Task AssertSameWithoutPgShiftAsync(TestServer source, string sourceDb, TestServer target, string targetDb)
    {
        static List<string> Ours(List<string> entries) => entries.Where(e => !e.Contains("pgshift", StringComparison.Ordinal)).ToList();
        var s = Ours(await TakeAsync(source, sourceDb));
        var t = Ours(await TakeAsync(target, targetDb));
        Assert.True(s.SequenceEqual(t), "pg_dump --schema-only differs:\nonly on the source:\n" + string.Join("\n", s.Except(t)) + "\nonly on the target:\n" + string.Join("\n", t.Except(s)));
    }

    public static List<string> Entries(string dump)
    {
        var entries = new List<(string Name, string Type, string Schema, List<string> Body)>();
        List<string>? body = null;
        foreach (var raw in dump.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var header = HeaderRegex().Match(line);
            if (header.Success)
            {
                body = new List<string>();
                entries.Add((header.Groups["name"].Value, header.Groups["type"].Value, header.Groups["schema"].Value, body));
                continue;
            }
            if (line.Length == 0 || line.StartsWith("--", StringComparison.Ordinal) || line.StartsWith('\\')
                || line.StartsWith("SET ", StringComparison.Ordinal) || line.StartsWith("SELECT pg_catalog.set_config(", StringComparison.Ordinal)
                || line.TrimStart().StartsWith("multirange_type_name = ", StringComparison.Ordinal))
            {
                continue;
            }
            body?.Add(line);
        }

        var result = new List<string>();
        foreach (var (name, type, schema, lines) in entries)
        {
            if (lines.Count == 0 // the public schema: "*not* creating schema, since initdb creates it"
                || schema == "pgshift" || name == "pgshift" || name == "SCHEMA pgshift"
                || (type == "ACL" && name == "SCHEMA public")
                // Its owner by default: the bootstrap superuser before 15, pg_database_owner (printed as nothing) from 15.
                || (type == "SCHEMA" && name == "public" && lines is ["ALTER SCHEMA public OWNER TO postgres;"]))
            {
                continue;
            }
            var text = new StringBuilder();
            text.Append(type).Append(" | ").Append(schema).Append(" | ").Append(name).Append('\n');
            var ordered = type == "ACL" ? lines.Order(StringComparer.Ordinal).ToList() : lines;
            text.AppendJoin('\n', ordered);
            var s = text.ToString();
            if (type == "PROCEDURE" || (type == "ACL" && name.StartsWith("PROCEDURE ", StringComparison.Ordinal)) || s.Contains("CREATE PROCEDURE", StringComparison.Ordinal))
            {
                s = ProcedureInRegex().Replace(s, "$1");
            }
            result.Add(s);
        }
        return result;
    }

    [GeneratedRegex(@"^-- (?:Data for )?Name: (?<name>.*); Type: (?<type>.*); Schema: (?<schema>.*); Owner: .*$")]
    private static partial Regex HeaderRegex();

    [GeneratedRegex(@"(\(|, )IN ")]
    private static partial Regex ProcedureInRegex();
}
