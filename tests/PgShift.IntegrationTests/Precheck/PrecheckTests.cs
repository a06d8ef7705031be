using PgShift.Connections;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Precheck;
using PgShift.Selection;

namespace PgShift.IntegrationTests.Precheck;

/// <summary>Each test works in its own schema of the class's fresh databases and selects only that schema.</summary>
public abstract class PrecheckHarness(ServerPair pair)
{
    protected ServerPair Pair { get; } = pair;

    protected static string NewSchema() => "s_" + Guid.NewGuid().ToString("N")[..10];

    protected async Task<PrecheckReport> RunAsync(string schema, ConnectionSpec? source = null, ConnectionSpec? target = null, bool assertUnchanged = true)
    {
        var before = (await CatalogFingerprint.TakeAsync(Pair.Source, Pair.SourceDb), await CatalogFingerprint.TakeAsync(Pair.Target, Pair.TargetDb));
        var selection = new TableSelection();
        selection.IncludeSchemas.Add(new NamePattern(schema));
        var options = new PrecheckOptions
        {
            Source = source ?? Pair.Source.Spec(Pair.SourceDb),
            Target = target ?? Pair.Target.Spec(Pair.TargetDb),
            TaskName = "t_" + schema,
            Selection = selection,
            ConnectTimeoutSeconds = 5,
        };
        // The precheck of a task, as migrate and 'pgshift precheck' run it (with what the schema phase will leave out).
        var report = await PgShift.Tasks.SchemaPrecheck.Runner(options).RunAsync(options, CancellationToken.None);
        if (assertUnchanged)
        {
            var after = (await CatalogFingerprint.TakeAsync(Pair.Source, Pair.SourceDb), await CatalogFingerprint.TakeAsync(Pair.Target, Pair.TargetDb));
            Assert.Equal(before, after);
        }
        return report;
    }

    protected static CheckResult Single(PrecheckReport report, string id, CheckStatus status)
    {
        var matches = report.Checks.Where(c => c.Id == id && c.Status == status).ToList();
        Assert.True(matches.Count == 1, $"expected one {status} {id}; got:\n" + string.Join("\n", report.Checks.Select(c => $"{c.Status} {c.Id}: {c.Message}")));
        return matches[0];
    }

    protected static void AssertOnlyFailure(PrecheckReport report, params string[] ids)
    {
        var failed = report.Checks.Where(c => c.Status == CheckStatus.Failed).Select(c => c.Id).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(ids.Order(StringComparer.Ordinal).ToArray(), failed);
    }

    protected async Task<string> SchemaWithKeyedTableAsync()
    {
        var schema = NewSchema();
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}."Order Items" (id bigserial PRIMARY KEY, "select" text, note text);
            CREATE TABLE {schema}.parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE {schema}.parted_2024 PARTITION OF {schema}.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE {schema}.full_ident (a int, b text);
            ALTER TABLE {schema}.full_ident REPLICA IDENTITY FULL;
            """);
        return schema;
    }
}

/// <summary>The precheck's behaviour, run for each supported source and target pair.</summary>
public abstract class PrecheckTestsBase(ServerPair pair) : PrecheckHarness(pair)
{
    [Fact]
    public async Task Ready_source_and_empty_target_pass_with_no_failure()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var report = await RunAsync(schema);
        AssertOnlyFailure(report);
        Assert.True(report.Passed);
        Single(report, "source.wal_level", CheckStatus.Passed);
        Single(report, "target.conflicts", CheckStatus.Passed);
        var full = Single(report, "source.replica_identity", CheckStatus.Warning);
        Assert.Contains($"{schema}\".\"full_ident", full.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unsupported_objects_lists_what_the_schema_phase_leaves_out_with_reason_and_dependents()
    {
        var schema = await SchemaWithKeyedTableAsync();
        // A function written in C outside an extension (the symbol exists in plpgsql's library; it is never called).
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE FUNCTION {schema}.c_func() RETURNS int AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE C;
            CREATE VIEW {schema}.c_vals AS SELECT {schema}.c_func() AS v;
            """);
        var report = await RunAsync(schema);
        var check = Single(report, "source.unsupported_objects", CheckStatus.Warning);
        Assert.Contains($"2 objects will not be migrated: function {schema}.c_func() (written in C", check.Message, StringComparison.Ordinal);
        Assert.Contains($"; and with it view \"{schema}\".\"c_vals\")", check.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Table_without_key_fails_replica_identity_with_the_exact_fix()
    {
        var schema = NewSchema();
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"CREATE SCHEMA {schema}; CREATE TABLE {schema}.\"No Key\" (a int, b text);");
        var report = await RunAsync(schema);
        AssertOnlyFailure(report, "source.replica_identity");
        var check = Single(report, "source.replica_identity", CheckStatus.Failed);
        Assert.Contains($"\"{schema}\".\"No Key\"", check.Message, StringComparison.Ordinal);
        Assert.Contains($"ALTER TABLE \"{schema}\".\"No Key\" REPLICA IDENTITY FULL;", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Table_with_only_a_unique_index_fails_and_suggests_using_it()
    {
        var schema = NewSchema();
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}.uniq (code text NOT NULL, v int);
            CREATE UNIQUE INDEX uniq_code ON {schema}.uniq (code);
            """);
        var report = await RunAsync(schema);
        AssertOnlyFailure(report, "source.replica_identity");
        var check = Single(report, "source.replica_identity", CheckStatus.Failed);
        Assert.Contains($"ALTER TABLE \"{schema}\".\"uniq\" REPLICA IDENTITY USING INDEX \"uniq_code\";", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Role_without_replication_fails_replication_privilege()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var role = "norepl_" + Guid.NewGuid().ToString("N")[..8];
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE ROLE {role} LOGIN;
            GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};
            GRANT SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
            """);
        try
        {
            var report = await RunAsync(schema, source: Pair.Source.Spec(Pair.SourceDb, role));
            AssertOnlyFailure(report, "source.replication_privilege", "source.publication_privilege");
            var check = Single(report, "source.replication_privilege", CheckStatus.Failed);
            Assert.Contains(role, check.Message, StringComparison.Ordinal);
            Assert.Equal($"ALTER ROLE \"{role}\" REPLICATION;", check.Fix);
        }
        finally
        {
            await Pair.Source.ExecuteAsync(Pair.SourceDb, $"DROP OWNED BY {role}; DROP ROLE {role};");
        }
    }

    [Fact]
    public async Task Conflicting_target_table_fails_and_is_named()
    {
        var schema = await SchemaWithKeyedTableAsync();
        await Pair.Target.ExecuteAsync(Pair.TargetDb, $"CREATE SCHEMA {schema}; CREATE TABLE {schema}.\"Order Items\" (id int);");
        var report = await RunAsync(schema);
        AssertOnlyFailure(report, "target.conflicts");
        var check = Single(report, "target.conflicts", CheckStatus.Failed);
        Assert.Contains($"\"{schema}\".\"Order Items\"", check.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("parted", check.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_password_fails_connect_without_showing_the_password()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var role = "pw_" + Guid.NewGuid().ToString("N")[..8];
        await Pair.Source.ExecuteAsync("postgres", $"SET password_encryption = 'scram-sha-256'; CREATE ROLE {role} LOGIN REPLICATION PASSWORD 'right-Password-1'; GRANT {TestServer.PasswordGroup} TO {role};");
        try
        {
            var wrong = "Wrong-Secret-77";
            var report = await RunAsync(schema, source: Pair.Source.Spec(Pair.SourceDb, role, wrong));
            AssertOnlyFailure(report, "source.connect");
            var check = Single(report, "source.connect", CheckStatus.Failed);
            Assert.Contains("Password authentication failed", check.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(wrong, check.Message + check.Fix, StringComparison.Ordinal);

            // The right password gets through, so the failure above was the password and nothing else.
            var ok = await RunAsync(schema, source: Pair.Source.Spec(Pair.SourceDb, role, "right-Password-1"));
            Single(ok, "source.connect", CheckStatus.Passed);
        }
        finally
        {
            await Pair.Source.ExecuteAsync("postgres", $"DROP ROLE {role};");
        }
    }

    [Fact]
    public async Task Unknown_host_fails_connect_at_once()
    {
        var schema = NewSchema();
        var started = DateTime.UtcNow;
        var report = await RunAsync(schema, source: ConnectionSpecParser.Parse("host=no-such-host.invalid dbname=app user=u", new Dictionary<string, string?>()));
        var check = Single(report, "source.connect", CheckStatus.Failed);
        Assert.Contains("no-such-host.invalid", check.Message, StringComparison.Ordinal);
        Assert.Contains("does not resolve", check.Message, StringComparison.Ordinal);
        Single(report, "target.connect", CheckStatus.Passed);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "the precheck must not wait on a name that does not resolve");
    }

    [Fact]
    public async Task Refused_port_and_missing_database_are_told_apart()
    {
        var schema = NewSchema();
        var refused = await RunAsync(schema, source: ConnectionSpecParser.Parse("host=127.0.0.1 port=1 dbname=app user=postgres", new Dictionary<string, string?>()));
        Assert.Contains("refused", Single(refused, "source.connect", CheckStatus.Failed).Message, StringComparison.Ordinal);
        var missing = await RunAsync(schema, target: Pair.Target.Spec("no_such_db_here"));
        Assert.Contains("\"no_such_db_here\" does not exist", Single(missing, "target.connect", CheckStatus.Failed).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Same_database_as_source_and_target_fails()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var report = await RunAsync(schema, target: Pair.Source.Spec(Pair.SourceDb));
        Single(report, "servers.distinct", CheckStatus.Failed);
    }
}

public sealed class PrecheckTests_12_to_17(Pg12To17 pair) : PrecheckTestsBase(pair), IClassFixture<Pg12To17>;

public sealed class PrecheckTests_15_to_17(Pg15To17 pair) : PrecheckTestsBase(pair), IClassFixture<Pg15To17>;

/// <summary>
/// A prepared transaction is the server's, not one database's: while it is open, every slot creation on that server
/// waits (and every precheck there reports it), so this test runs alone, after the tests that run in parallel.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneOnTheServers
{
    public const string Name = "Alone on the servers";
}

public abstract class PreparedTransactionTestsBase(ServerPair pair) : PrecheckHarness(pair)
{
    [Fact]
    public async Task Prepared_transaction_is_reported_with_its_gid()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var maxPrepared = await Pair.Source.ScalarAsync<string>(Pair.SourceDb, "SHOW max_prepared_transactions");
        if (maxPrepared == "0")
        {
            // The servers script enables prepared transactions; a server without them cannot hold one.
            Assert.Fail($"{Pair.Source} has max_prepared_transactions = 0; start the servers with tests/servers/pg-servers.sh.");
        }
        var gid = "g_" + schema;
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"BEGIN; INSERT INTO {schema}.\"Order Items\" (note) VALUES ('x'); PREPARE TRANSACTION '{gid}';");
        try
        {
            var report = await RunAsync(schema);
            var check = Single(report, "source.prepared_transactions", CheckStatus.Failed);
            Assert.Contains(gid, check.Message, StringComparison.Ordinal);
            Assert.Contains($"ROLLBACK PREPARED '{gid}'", check.Fix, StringComparison.Ordinal);
        }
        finally
        {
            await Pair.Source.ExecuteAsync(Pair.SourceDb, $"ROLLBACK PREPARED '{gid}'");
        }
    }
}

[Collection(AloneOnTheServers.Name)]
public sealed class PreparedTransactionTests_12_to_17(Pg12To17 pair) : PreparedTransactionTestsBase(pair), IClassFixture<Pg12To17>;

[Collection(AloneOnTheServers.Name)]
public sealed class PreparedTransactionTests_15_to_17(Pg15To17 pair) : PreparedTransactionTestsBase(pair), IClassFixture<Pg15To17>;

public sealed class PrecheckWalLevelTests(Pg15ReplicaTo17 pair) : PrecheckHarness(pair), IClassFixture<Pg15ReplicaTo17>
{
    [Fact]
    public async Task Wal_level_replica_fails_with_the_setting_to_change()
    {
        var schema = await SchemaWithKeyedTableAsync();
        var report = await RunAsync(schema);
        AssertOnlyFailure(report, "source.wal_level");
        var check = Single(report, "source.wal_level", CheckStatus.Failed);
        Assert.Contains("wal_level = replica", check.Message, StringComparison.Ordinal);
        Assert.Contains("wal_level = logical", check.Fix, StringComparison.Ordinal);
        Assert.Contains("rds.logical_replication", check.Fix, StringComparison.Ordinal);
    }
}
