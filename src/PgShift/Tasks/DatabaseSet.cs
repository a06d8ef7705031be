using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Selection;
using PgShift.Settings;

namespace PgShift.Tasks;

/// <summary>Which databases of a server a command works on: all of them (<c>--all-databases</c>) or those named, less those excluded.</summary>
public sealed record DatabaseChoice(bool All, IReadOnlyList<string> Names, IReadOnlyList<string> Excluded);

/// <summary>
/// A migration of several databases of one server: one task per database, named after it, whose state lives in its own
/// target database. This finds the databases, gives each its task name, and creates those the target lacks.
/// </summary>
public static class DatabaseSet
{
    /// <summary>
    /// The databases chosen on <paramref name="server"/> (the source, or the target when the command reaches only it),
    /// in name order. A named database the server does not hold is refused, naming those it does. Of all databases
    /// (<see cref="DatabaseChoice.All"/>), those that hold no table (an unused postgres, for one) are left out: a task
    /// there would have nothing to move, and its precheck would say so; <paramref name="leftOut"/> names them (without it,
    /// every database is kept).
    /// </summary>
    public static async Task<IReadOnlyList<ServerDatabase>> ResolveAsync(ConnectionSpec server, string role, DatabaseChoice choice,
        List<string>? leftOut, CancellationToken ct)
    {
        IReadOnlyList<ServerDatabase> all;
        await using (var conn = await OpenAnyAsync(server, ct))
        {
            all = await ServerDatabases.ListAsync(conn, ct);
        }
        var excluded = choice.Excluded.Select(p => new NamePattern(p)).ToList();
        if (choice.All)
        {
            var chosen = new List<ServerDatabase>();
            foreach (var db in all.Where(d => !excluded.Any(p => p.IsMatch(d.Name))))
            {
                if (leftOut is null)
                {
                    chosen.Add(db);
                    continue;
                }
                await using var conn = await ConnectionOpener.OpenAsync(server.WithDatabase(db.Name), "pgshift", ct);
                if (await ServerDatabases.HoldsTablesAsync(conn, ct))
                {
                    chosen.Add(db);
                }
                else
                {
                    leftOut.Add(db.Name);
                }
            }
            return chosen;
        }
        var byName = all.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var missing = choice.Names.Where(n => !byName.ContainsKey(n)).ToList();
        if (missing.Count > 0)
        {
            throw new PgShiftException(
                $"The {role} {server.HostDisplay} has no database {string.Join(", ", missing.Select(Quoted))} that accepts connections (it has {string.Join(", ", all.Select(d => Quoted(d.Name)))}).",
                "Check the names given to --databases (exact names, case-sensitive, comma-separated), or use --all-databases.");
        }
        return choice.Names.Distinct(StringComparer.Ordinal).Select(n => byName[n]).ToList();
    }

    /// <summary>Of <paramref name="databases"/>, those on the target whose <c>pgshift</c> schema holds tasks (what status and stop find without a source).</summary>
    public static async Task<IReadOnlyList<ServerDatabase>> WithTasksAsync(ConnectionSpec target, IEnumerable<ServerDatabase> databases, CancellationToken ct)
    {
        var found = new List<ServerDatabase>();
        foreach (var db in databases)
        {
            await using var conn = await ConnectionOpener.OpenAsync(target.WithDatabase(db.Name), "pgshift", ct);
            await using var cmd = new NpgsqlCommand("SELECT to_regclass('pgshift.tasks') IS NOT NULL", conn);
            if ((bool)(await cmd.ExecuteScalarAsync(ct))!)
            {
                found.Add(db);
            }
        }
        return found;
    }

    /// <summary>
    /// Each database's task name: the database's name made valid (as for one database). Two databases whose names give
    /// the same task name would share a slot name on the source, so that is refused.
    /// </summary>
    public static IReadOnlyDictionary<string, string> TaskNames(IEnumerable<ServerDatabase> databases)
    {
        var names = databases.ToDictionary(d => d.Name, d => TaskName.FromDatabase(d.Name), StringComparer.Ordinal);
        if (names.GroupBy(kv => kv.Value, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } clash)
        {
            throw new PgShiftException(
                $"The databases {string.Join(" and ", clash.Select(kv => Quoted(kv.Key)))} would both be migrated by a task named {clash.Key} (a task's name is its database's, in lower-case letters, digits and underscores).",
                $"Migrate one of them on its own with --task ANOTHER_NAME (leave it out here with --exclude-database).");
        }
        return names;
    }

    /// <summary>
    /// Creates on the target each of <paramref name="databases"/> it lacks, with the source's encoding and locale, owned by
    /// the source's owner when the target has that role (else by the connecting role, and said so). Returns what it did, in words.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CreateMissingAsync(ConnectionSpec target, IReadOnlyList<ServerDatabase> databases, CancellationToken ct)
    {
        await using var conn = await OpenAnyAsync(target, ct);
        var present = (await ServerDatabasesPresent(conn, ct)).ToHashSet(StringComparer.Ordinal);
        var roles = new HashSet<string>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT rolname FROM pg_roles", conn))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                roles.Add(r.GetString(0));
            }
        }
        var said = new List<string>();
        foreach (var db in databases.Where(d => !present.Contains(d.Name)))
        {
            var owner = roles.Contains(db.Owner) ? $" OWNER {Sql.Ident(db.Owner)}" : "";
            // template0: the source's encoding and locale may differ from template1's; the objects come from the source.
            var sql = $"CREATE DATABASE {Sql.Ident(db.Name)}{owner} TEMPLATE template0 ENCODING {Sql.Literal(db.Encoding)} "
                + $"LC_COLLATE {Sql.Literal(db.Collate)} LC_CTYPE {Sql.Literal(db.Ctype)}";
            try
            {
                await using var cmd = new NpgsqlCommand(sql, conn);
                await cmd.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException ex)
            {
                throw new PgShiftException($"Cannot create the database {Quoted(db.Name)} on the target {target.HostDisplay}: {ex.MessageText}",
                    ex.SqlState == PostgresErrorCodes.InsufficientPrivilege
                        ? $"Connect to the target as a role with CREATEDB (ALTER ROLE {Sql.Ident(target.User)} CREATEDB), or create the database first: {sql};"
                        : $"Create it on the target yourself (with a locale the target has), then run the command again: {sql};");
            }
            said.Add($"created database {Quoted(db.Name)} on the target (owner {(owner.Length > 0 ? db.Owner : $"{target.User}: the target has no role {db.Owner}")}, encoding {db.Encoding}, locale {db.Collate})");
        }
        return said;
    }

    private static async Task<List<string>> ServerDatabasesPresent(NpgsqlConnection conn, CancellationToken ct)
    {
        var names = new List<string>();
        await using var cmd = new NpgsqlCommand("SELECT datname FROM pg_database", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            names.Add(r.GetString(0));
        }
        return names;
    }

    /// <summary>
    /// A session on the server to list its databases: in the database the connection string names, else (a URI without one
    /// names the user's) in postgres, else template1, as createdb and pg_dumpall look for one.
    /// </summary>
    private static async Task<NpgsqlConnection> OpenAnyAsync(ConnectionSpec server, CancellationToken ct)
    {
        ConnectionFailedException? first = null;
        foreach (var database in new[] { server.Database, "postgres", "template1" }.Distinct(StringComparer.Ordinal))
        {
            try
            {
                return await ConnectionOpener.OpenAsync(server.WithDatabase(database), "pgshift", ct);
            }
            catch (ConnectionFailedException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName })
            {
                first ??= ex;
            }
        }
        throw first!;
    }

    /// <summary>A database's name as a person reads it in a message: double-quoted when it needs quoting in SQL.</summary>
    public static string Quoted(string name) => TaskName.FromDatabase(name) == name ? name : Sql.Ident(name);
}
