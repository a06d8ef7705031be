using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using PgShift.Catalog;
using PgShift.Connections;
using PgShift.Selection;
using PgShift.State;

namespace PgShift.Schema;

/// <summary>
/// Creates the selected objects on the target: pre-data (everything a table needs to receive rows) in one
/// transaction, so a failure leaves nothing half-created; post-data (keys, indexes, foreign keys,
/// triggers) after the data, in parallel, largest table first, each object in its own transaction so a
/// re-run continues with what is missing.
/// </summary>
public sealed class SchemaMigrator(ILogger logger)
{
    public const string PreDataPhase = "pre-data";
    public const string PostDataPhase = "post-data";

    public async Task<SchemaReport> CreatePreDataAsync(SchemaMigrationOptions options, CancellationToken ct)
    {
        var report = new SchemaReport();
        await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift schema", ct);
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift schema", ct);
        options = await options.WithTargetAsync(target, ct);
        var (reader, objects) = await ReadSourceAsync(source, options, ct);
        report.Warnings.AddRange(reader.Warnings);
        report.Skipped.AddRange(reader.Skipped.Select(o => (o.Display, o.SkipReason!)));
        // Said now, not only in the report: a task that fails further on still shows what it left out, and why.
        foreach (var o in reader.Skipped)
        {
            logger.LogWarning("{Object} is not migrated: {Reason}", o.Display, o.SkipReason);
        }

        if (await StateSchema.PhaseDoneAsync(target, options.TaskName, PreDataPhase, ct))
        {
            report.AlreadyPresent.AddRange(objects.Select(o => o.Display));
            logger.LogInformation("Pre-data objects of task {Task} exist from an earlier run", options.TaskName);
            return report;
        }

        var available = await QueryListAsync(target, "SELECT name FROM pg_available_extensions", ct);
        var targetRoles = await TargetRoles.ReadAsync(target, null, ct);
        var roles = targetRoles.Existing;
        var schemasBefore = (await QueryListAsync(target, "SELECT nspname FROM pg_namespace", ct)).ToHashSet(StringComparer.Ordinal);

        await using var tx = await target.BeginTransactionAsync(ct);
        await ExecAsync(target, tx, "SET LOCAL check_function_bodies = off; SET LOCAL search_path = ''; SET LOCAL client_min_messages = warning", ct);
        foreach (var o in objects)
        {
            if (o.Kind == ObjectKind.Extension && !available.Contains(o.Name))
            {
                report.Skipped.Add((o.Display, "not available on the target server"));
                report.Warnings.Add($"{o.Display} is not available on the target; objects that use it will fail. Install it on the target.");
                continue;
            }
            foreach (var statement in o.Statements)
            {
                await RunAsync(target, tx, o.Display, statement, ct);
            }
            report.Created.Add(o.Display);
        }
        foreach (var o in objects)
        {
            foreach (var statement in o.Finishing)
            {
                await RunAsync(target, tx, o.Display, statement, ct);
            }
        }
        var ownersLeft = await RunOwnersAsync(target, tx, reader.Owners, targetRoles, schemasBefore, report, ct);
        foreach (var (o, grantee, sql) in reader.Grants.Where(g => g.Object.SkipReason is null))
        {
            if (grantee == "PUBLIC" || roles.Contains(grantee))
            {
                await RunAsync(target, tx, o.Display, sql, ct);
            }
            else
            {
                report.Warnings.Add($"Role {grantee} does not exist on the target; not migrated: {sql}");
            }
        }
        await RunRoleStatementsAsync(target, tx, reader.RoleStatements, roles, report, ct);
        await MappingRenames.ApplyAsync(target, tx, options, objects, schemasBefore, report, ct);
        await SkippedObject.RecordAsync(target, tx, options.TaskName, reader.Skipped.Select(o => new SkippedObject(o.Display, o.SkipReason!,
            o.Kind == ObjectKind.Table ? Sql.Qualified(o.Schema, o.Name) : null)).Concat(ownersLeft), ct);
        await StateSchema.MarkPhaseDoneAsync(target, tx, options.TaskName, PreDataPhase, options.Source.ToString(), ct);
        await tx.CommitAsync(ct);
        logger.LogInformation("Created {Count} pre-data objects; {Skipped} skipped", report.Created.Count, report.Skipped.Count);
        return report;
    }

    /// <summary>
    /// Gives each created object its source owner, when the role exists on the target and the target's user may give it
    /// away (a superuser, or a member of the role; PostgreSQL 16+: with its SET option). A schema the target had before
    /// keeps its owner, and nothing is said for objects the target's user should own anyway. What cannot be given is
    /// said once per role, and returned as "owner of ..." entries for the task's list of what it left out.
    /// </summary>
    private async Task<List<SkippedObject>> RunOwnersAsync(NpgsqlConnection target, NpgsqlTransaction tx, List<OwnerStatement> owners,
        TargetRoles roles, HashSet<string> schemasBefore, SchemaReport report, CancellationToken ct)
    {
        var left = new List<SkippedObject>();
        if (owners.Count == 0)
        {
            return left;
        }
        var me = roles.Me;
        var notGiven = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var owner in owners.Where(w => w.Object.SkipReason is null && w.Role != me
                     && !(w.Object.Kind == ObjectKind.Schema && schemasBefore.Contains(w.Object.Name))))
        {
            var why = roles.WhyNotOwner(owner.Role);
            if (why is null && !roles.Superuser)
            {
                // A member may still be refused (the new owner needs CREATE on the object's schema): said, not fatal.
                why = await RunUnlessRefusedAsync(target, tx, owner.Object.Display, [owner.Sql], ct) is { } refusal
                    ? $"{refusal} (giving it to role {Sql.Ident(owner.Role)})"
                    : null;
            }
            else if (why is null)
            {
                await RunAsync(target, tx, owner.Object.Display, owner.Sql, ct);
            }
            if (why is not null)
            {
                left.Add(new SkippedObject($"owner of {owner.Object.Display}", $"{why}: it belongs to {Sql.Ident(me)}", null));
                if (!notGiven.TryGetValue(why, out var objects))
                {
                    notGiven[why] = objects = new List<string>();
                }
                objects.Add(owner.Object.Display);
            }
        }
        foreach (var (why, objects) in notGiven)
        {
            var message = $"Owners not migrated: {why}, so {Plural.Of(objects.Count, "object")} belong{(objects.Count == 1 ? "s" : "")} to {Sql.Ident(me)} instead "
                + $"({NameList.Of(objects)}). Create the role on the target (or grant it to {Sql.Ident(me)}) and migrate again, run the ALTER ... OWNER TO statements yourself, or pass --no-owner.";
            report.Warnings.Add(message);
            logger.LogWarning("{Message}", message);
        }
        return left;
    }

    /// <summary>Policies and default privileges, under source names (renames follow them), without the roles the target lacks.</summary>
    private static async Task RunRoleStatementsAsync(NpgsqlConnection target, NpgsqlTransaction tx, List<RoleStatement> statements,
        IReadOnlySet<string> roles, SchemaReport report, CancellationToken ct)
    {
        foreach (var s in statements.Where(s => s.Object?.SkipReason is null))
        {
            var present = s.Roles.Where(r => r == RoleStatement.Public || roles.Contains(r)).ToList();
            var sqls = s.Build(present);
            var missing = s.Roles.Except(present).ToList();
            if (missing.Count > 0)
            {
                var names = string.Join(", ", missing.Select(Sql.Ident));
                report.Warnings.Add(sqls.Count == 0
                    ? $"Role {names} does not exist on the target; not migrated: {s.Display}. Create the role and the object on the target."
                    : $"Role {names} does not exist on the target; {s.Display} is migrated without it: {string.Join("; ", sqls)}");
            }
            // Default privileges for a role the target user is not a member of are refused: a warning, as for a missing role.
            if (await RunUnlessRefusedAsync(target, tx, s.Display, sqls, ct) is { } refusal)
            {
                report.Warnings.Add($"Not migrated: {s.Display}: {refusal}. Run it on the target as a member of the roles it names: {string.Join("; ", sqls)}");
            }
        }
    }

    /// <summary>
    /// Runs the statements under a savepoint of the pre-data transaction. A refusal for want of privilege is rolled back
    /// to it and returned (the server's words) instead of failing the transaction; null when they ran.
    /// </summary>
    private static async Task<string?> RunUnlessRefusedAsync(NpgsqlConnection target, NpgsqlTransaction tx, string display, IEnumerable<string> sqls, CancellationToken ct)
    {
        string? refusal = null;
        await ExecAsync(target, tx, "SAVEPOINT pgshift_refusable", ct);
        try
        {
            foreach (var sql in sqls)
            {
                await RunAsync(target, tx, display, sql, ct);
            }
        }
        catch (PgShiftException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } pe)
        {
            await ExecAsync(target, tx, "ROLLBACK TO SAVEPOINT pgshift_refusable", ct);
            refusal = pe.MessageText;
        }
        await ExecAsync(target, tx, "RELEASE SAVEPOINT pgshift_refusable", ct);
        return refusal;
    }

    /// <param name="readyTables">
    /// When the data is still being copied: source tables whose copy is committed, as they come. Each table's keys
    /// and indexes are built as soon as it is ready, while other tables still copy; the rest waits for the end.
    /// </param>
    /// <param name="progress">With <paramref name="readyTables"/>: told as tables' keys and indexes are built, and when all are.</param>
    public async Task<SchemaReport> CreatePostDataAsync(SchemaMigrationOptions options, CancellationToken ct,
        ChannelReader<QualifiedName>? readyTables = null, PostDataProgress? progress = null)
    {
        var report = new SchemaReport();
        List<PostDataStatement> statements;
        List<SchemaObject> objects;
        SourceSchemaReader reader;
        IReadOnlyDictionary<uint, QualifiedName> tables;
        Dictionary<QualifiedName, QualifiedName> trees;
        Dictionary<string, string> deparsed;
        HashSet<string> readsForeignRows;
        await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift schema", ct);
        options = await options.WithTargetAsync(target, ct);
        await using (var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift schema", ct))
        {
            (reader, objects) = await ReadSourceAsync(source, options, ct);
            // ANALYZE reads a foreign table's rows through its wrapper (from its server, or fails when the wrapper has no
            // handler), and a parent's through its partitions and children: those are left to the user, as after pg_restore.
            readsForeignRows = (await QueryListAsync(source, """
                WITH RECURSIVE up(oid) AS (SELECT oid FROM pg_class WHERE relkind = 'f'
                                           UNION SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid)
                SELECT oid::text FROM up
                """, ct)).ToHashSet(StringComparer.Ordinal);
            var matviews = objects.Where(o => o.Kind == ObjectKind.MaterializedView).Select(o => uint.Parse(o.Key.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            tables = options.KnownTables is { } known ? reader.Selected.Among(known) : reader.Selected.Tables;
            // A table the pre-data left out has no keys, indexes or sequences to build.
            var leftOut = reader.Skipped.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
            tables = tables.Where(t => !leftOut.Contains($"rel:{t.Key}")).ToDictionary(t => t.Key, t => t.Value);
            trees = reader.Selected.PartitionTrees();
            statements = await PostDataReader.ReadAsync(source, tables, matviews, ct);
            statements.AddRange(objects.SelectMany(o => o.AfterData.Select(c =>
                new PostDataStatement(c.Kind, new QualifiedName(o.Schema, o.Name), c.Name, c.Sql, 0))));
            deparsed = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var schema in options.Mapping.Schemas.Keys)
            {
                await using var q = new NpgsqlCommand("SELECT quote_ident(@s)", source);
                q.Parameters.AddWithValue("s", schema);
                deparsed[schema] = (string)(await q.ExecuteScalarAsync(ct))!;
            }
        }
        var mapper = new PostDataMapper(options.Mapping, deparsed);
        var existing = await ExistingPostDataAsync(target, ct);

        var pending = PendingPostData(options, statements, mapper, existing, report);

        // Keys and indexes first (largest table first, so the longest build starts at once), then foreign
        // keys, which need the referenced keys, then triggers and the rest.
        var keysAndIndexes = pending.Where(p => p.Statement.Kind is PostDataKind.Constraint or PostDataKind.Index)
            .OrderByDescending(p => p.Statement.TableBytes).ToList();
        if (readyTables is null)
        {
            await RunParallelAsync(options, keysAndIndexes, trees, report, ct);
        }
        else
        {
            await RunAsTablesBecomeReadyAsync(options, keysAndIndexes, trees, readyTables, report, progress?.TableBuilt, ct);
            if (progress is not null)
            {
                await progress.KeysAndIndexesBuilt();
            }
        }
        // Views that need a key take their definition once the keys exist (before foreign keys, which may not be
        // built until the cutover).
        foreach (var p in pending.Where(p => p.Statement.Kind == PostDataKind.View))
        {
            await RunAsync(target, null, p.Statement.Display, p.Sql, ct);
            report.Created.Add(p.Statement.Display);
        }
        await RunParallelAsync(options, pending.Where(p => p.Statement.Kind == PostDataKind.ForeignKey).ToList(), trees, report, ct);
        foreach (var p in pending.Where(p => p.Statement.Kind is PostDataKind.Trigger or PostDataKind.DomainConstraint or PostDataKind.Other))
        {
            await RunAsync(target, null, p.Statement.Display, p.Sql, ct);
            if (p.Statement.Kind is PostDataKind.Trigger or PostDataKind.DomainConstraint)
            {
                report.Created.Add(p.Statement.Display);
            }
        }

        await using (var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift schema", ct))
        {
            await SequenceSync.SyncAsync(source, target, tables,
                objects.Where(o => o.Kind == ObjectKind.Sequence).Select(o => new QualifiedName(o.Schema, o.Name)).ToHashSet(), options.Mapping, report.Warnings, ct);
        }
        foreach (var mv in objects.Where(o => o.Kind == ObjectKind.MaterializedView))
        {
            var name = Sql.Qualified(options.Mapping.MapSchema(mv.Schema), mv.Name);
            await RunAsync(target, null, mv.Display, $"REFRESH MATERIALIZED VIEW {name}", ct);
        }
        // ANALYZE in parallel too: on a freshly loaded database it is a noticeable part of the post-data time.
        var analyze = tables.Where(t => !readsForeignRows.Contains(t.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .Select(t => options.Mapping.MapTable(t.Value)).Distinct()
            .Select(t => (new PostDataStatement(PostDataKind.Other, t, "ANALYZE", $"ANALYZE {t}", 0), $"ANALYZE {t}")).ToList();
        await RunParallelAsync(options, analyze, new Dictionary<QualifiedName, QualifiedName>(), report, ct, countAsCreated: false);
        await StateSchema.MarkPhaseDoneAsync(target, null, options.TaskName, PostDataPhase, options.Source.ToString(), ct);
        logger.LogInformation("Built {Count} post-data objects ({Present} already present)", report.Created.Count, report.AlreadyPresent.Count);
        return report;
    }

    /// <summary>The statements still to run, mapped to the target's names: not those already built, nor those that wait for the cutover.</summary>
    private static List<(PostDataStatement Statement, string Sql)> PendingPostData(SchemaMigrationOptions options, List<PostDataStatement> statements,
        PostDataMapper mapper, HashSet<string> existing, SchemaReport report)
    {
        var pending = new List<(PostDataStatement Statement, string Sql)>();
        foreach (var s in statements)
        {
            var isTriggerStatement = s.Kind == PostDataKind.Trigger || s.Kind == PostDataKind.Other && s.Sql.Contains(" TRIGGER ", StringComparison.Ordinal);
            // Enable states that would make a trigger or rule fire for the applied changes wait for the cutover.
            var firesForStream = s.Kind == PostDataKind.Other && s.Sql.StartsWith("ALTER TABLE ", StringComparison.Ordinal)
                && (s.Sql.Contains(" ENABLE ALWAYS TRIGGER ", StringComparison.Ordinal) || s.Sql.Contains(" ENABLE REPLICA TRIGGER ", StringComparison.Ordinal)
                    || s.Sql.Contains(" RULE ", StringComparison.Ordinal));
            if (options.DeferForeignKeysAndTriggers && (s.Kind == PostDataKind.ForeignKey || isTriggerStatement)
                || options.StreamFollows && (firesForStream || s.Sql.EndsWith(" SET GENERATED ALWAYS", StringComparison.Ordinal)
                    || s.Sql.EndsWith(PolicyReader.ForceRowSecurity, StringComparison.Ordinal)))
            {
                continue;
            }
            var mapped = mapper.Map(s);
            var key = mapper.Key(s);
            // A view's definition is replaced whether or not it ran before: its placeholder has the same name.
            if (s.Kind is not (PostDataKind.Other or PostDataKind.View) && existing.Contains(key))
            {
                report.AlreadyPresent.Add(s.Display);
                continue;
            }
            pending.Add((s, mapped));
        }
        return pending;
    }

    /// <summary>What the DDL written depends on in the target: its major version, its built-in functions, whether its role is a superuser.</summary>
    private static async Task<(SourceSchemaReader, List<SchemaObject>)> ReadSourceAsync(NpgsqlConnection source, SchemaMigrationOptions options, CancellationToken ct)
    {
        // One snapshot of the catalog for all the reads.
        await ExecAsync(source, null, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ct);
        var reader = new SourceSchemaReader(source, options);
        var objects = await reader.ReadPreDataAsync(ct);
        await ExecAsync(source, null, "COMMIT", ct);
        return (reader, objects);
    }

    private async Task RunParallelAsync(SchemaMigrationOptions options, List<(PostDataStatement Statement, string Sql)> work,
        IReadOnlyDictionary<QualifiedName, QualifiedName> trees, SchemaReport report, CancellationToken ct, bool countAsCreated = true)
    {
        if (work.Count == 0)
        {
            return;
        }
        var groups = PostDataGroups.Of(work, w => w.Statement, trees);
        await RunOnWorkersAsync(options, groups.ToAsyncEnumerable(), Math.Min(options.Jobs, groups.Count), report, countAsCreated, ct);
    }

    private async Task RunAsTablesBecomeReadyAsync(SchemaMigrationOptions options, List<(PostDataStatement Statement, string Sql)> work,
        IReadOnlyDictionary<QualifiedName, QualifiedName> trees, ChannelReader<QualifiedName> readyTables, SchemaReport report,
        Action<QualifiedName>? tableBuilt, CancellationToken ct)
    {
        var byTable = work.GroupBy(w => w.Statement.Table).ToDictionary(g => g.Key, g => g.ToList());
        // Statements still to build, of the tables that stand alone and whose copy is committed.
        var unbuilt = new ConcurrentDictionary<QualifiedName, int>();
        var queue = Channel.CreateUnbounded<List<(PostDataStatement Statement, string Sql)>>();
        var dispatcher = Task.Run(async () =>
        {
            try
            {
                await foreach (var table in readyTables.ReadAllAsync(ct))
                {
                    // A partition tree's statements wait for the end, to run as one group.
                    if (!PostDataGroups.StandsAlone(table, trees))
                    {
                        continue;
                    }
                    if (byTable.Remove(table, out var statements))
                    {
                        unbuilt[table] = statements.Count;
                        foreach (var s in statements)
                        {
                            queue.Writer.TryWrite([s]);
                        }
                    }
                    else
                    {
                        tableBuilt?.Invoke(table);
                    }
                }
                // The copy is over: whatever was copied by an earlier run, or has no copy, is ready too.
                foreach (var group in PostDataGroups.Of(byTable.Values.SelectMany(x => x).OrderByDescending(x => x.Statement.TableBytes), x => x.Statement, trees))
                {
                    // A table that stands alone is told built as the others (a partition tree's statements lock several tables at once).
                    foreach (var (statement, _) in group.Where(g => PostDataGroups.StandsAlone(g.Statement.Table, trees)))
                    {
                        unbuilt.AddOrUpdate(statement.Table, 1, (_, n) => n + 1);
                    }
                    queue.Writer.TryWrite(group);
                }
                queue.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                queue.Writer.TryComplete(ex);
                throw;
            }
        }, ct);
        var workers = RunOnWorkersAsync(options, queue.Reader.ReadAllAsync(ct), options.Jobs, report, countAsCreated: true, ct, built: statement =>
        {
            if (tableBuilt is not null && unbuilt.ContainsKey(statement.Table) && unbuilt.AddOrUpdate(statement.Table, 0, (_, n) => n - 1) == 0)
            {
                tableBuilt(statement.Table);
            }
        });
        await Task.WhenAll(workers, dispatcher);
    }

    /// <summary>
    /// Runs the groups in the order they come, on up to <paramref name="workers"/> target sessions at once (each opened
    /// when first needed, and kept for the next group), a group's statements one after the other. A statement that
    /// fails does not stop the others, so that a re-run has less left to build; the first failure is thrown once every
    /// statement has been tried.
    /// </summary>
    /// <param name="built">Called with each statement that succeeded, as it does.</param>
    private async Task RunOnWorkersAsync(SchemaMigrationOptions options, IAsyncEnumerable<List<(PostDataStatement Statement, string Sql)>> work, int workers,
        SchemaReport report, bool countAsCreated, CancellationToken ct, Action<PostDataStatement>? built = null)
    {
        var idle = new ConcurrentBag<NpgsqlConnection>();
        var created = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<Exception>();
        try
        {
            await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers), CancellationToken = ct }, async (group, _) =>
            {
                foreach (var item in group)
                {
                    await RunOneAsync(item);
                }
            });
        }
        finally
        {
            foreach (var conn in idle)
            {
                await conn.DisposeAsync();
            }
        }
        if (failures.TryDequeue(out var first))
        {
            ExceptionDispatchInfo.Throw(first);
        }
        report.Created.AddRange(created);

        async Task RunOneAsync((PostDataStatement Statement, string Sql) item)
        {
            // The statements run under the caller's token, not the loop's: one failing must not cancel the others' builds.
            NpgsqlConnection? conn = null;
            try
            {
                if (!idle.TryTake(out conn))
                {
                    conn = await ConnectionOpener.OpenAsync(options.Target, "pgshift post-data", ct);
                    await ExecAsync(conn, null, "SET maintenance_work_mem = '256MB'; SET statement_timeout = 0", ct);
                }
                await RunAsync(conn, null, item.Statement.Display, item.Sql, ct);
                idle.Add(conn);
                conn = null;
                built?.Invoke(item.Statement);
                if (countAsCreated)
                {
                    created.Enqueue(item.Statement.Display);
                    logger.LogInformation("Built {Object}", item.Statement.Display);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failures.Enqueue(ex);
            }
            finally
            {
                if (conn is not null)
                {
                    await conn.DisposeAsync();
                }
            }
        }
    }

    private static async Task<HashSet<string>> ExistingPostDataAsync(NpgsqlConnection target, CancellationToken ct)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        // q(): PgShift's quoting (always double quotes), to compare with the statements' keys.
        foreach (var row in await QueryListAsync(target, """
            SELECT ('"' || replace(n.nspname, '"', '""') || '"') || '.' || ('"' || replace(r.relname, '"', '""') || '"') || '|' || ('"' || replace(c.conname, '"', '""') || '"')
              FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            UNION ALL
            SELECT ('"' || replace(n.nspname, '"', '""') || '"') || '.' || ('"' || replace(r.relname, '"', '""') || '"') || '|' || ('"' || replace(ic.relname, '"', '""') || '"')
              FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class r ON r.oid = i.indrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
            UNION ALL
            SELECT ('"' || replace(n.nspname, '"', '""') || '"') || '.' || ('"' || replace(r.relname, '"', '""') || '"') || '|' || ('"' || replace(t.tgname, '"', '""') || '"')
              FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
            UNION ALL
            SELECT ('"' || replace(n.nspname, '"', '""') || '"') || '.' || ('"' || replace(d.typname, '"', '""') || '"') || '|' || ('"' || replace(c.conname, '"', '""') || '"')
              FROM pg_constraint c JOIN pg_type d ON d.oid = c.contypid JOIN pg_namespace n ON n.oid = d.typnamespace
            """, ct))
        {
            set.Add(row);
        }
        return set;
    }

    /// <summary>Runs one statement that creates or changes <paramref name="what"/> on the target; a failure names the object and the statement.</summary>
    internal static async Task RunAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string what, string sql, CancellationToken ct)
    {
        try
        {
            await using var cmd = new NpgsqlCommand(sql, conn, tx);
            await cmd.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException pe)
        {
            throw new PgShiftException(
                $"Creating {what} on the target failed: {pe.MessageText} (SQLSTATE {pe.SqlState}). Statement: {sql}",
                "Fix the cause on the target (or exclude the object) and run the task again; nothing of this phase was kept, or it resumes with what is missing.",
                pe);
        }
    }

    private static async Task ExecAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<List<string>> QueryListAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        var list = new List<string>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(rd.GetString(0));
        }
        return list;
    }
}

/// <summary>What the post-data phase tells while it overlaps the copy (see <see cref="SchemaMigrator.CreatePostDataAsync"/>).</summary>
/// <param name="TableBuilt">
/// A table's keys and indexes are all built (at once when it has none) and its copy is committed. Not called for a
/// table whose build failed, nor for a partition in a tree whose statements name its root.
/// </param>
/// <param name="KeysAndIndexesBuilt">Every key and index is built; awaited before the views, foreign keys and triggers.</param>
public sealed record PostDataProgress(Action<QualifiedName> TableBuilt, Func<Task> KeysAndIndexesBuilt);
