using Microsoft.Extensions.Logging.Abstractions;
using PgShift.Catalog;
using PgShift.Copy;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Precheck;
using PgShift.Schema;
using PgShift.Selection;
using PgShift.Settings;

namespace PgShift.IntegrationTests.Precheck;

/// <summary>The precheck checks the tables the copy moves: one answer to "which tables are selected", partitions with their root.</summary>
public abstract class SelectionAgreementTestsBase(ServerPair pair) : PrecheckHarness(pair)
{
    [Fact]
    public async Task Precheck_and_copy_name_the_same_tables_for_a_partitioned_table_an_excluded_table_and_a_pattern()
    {
        var schema = NewSchema();
        await Pair.Source.ExecuteAsync(Pair.SourceDb, $"""
            CREATE SCHEMA {schema};
            CREATE TABLE {schema}.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE {schema}.events_2024 PARTITION OF {schema}.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE {schema}."Events Old" PARTITION OF {schema}.events FOR VALUES FROM ('2000-01-01') TO ('2024-01-01');
            CREATE TABLE {schema}.events_archive PARTITION OF {schema}.events FOR VALUES FROM ('1900-01-01') TO ('2000-01-01');
            CREATE TABLE {schema}.items_1 (id int PRIMARY KEY);
            CREATE TABLE {schema}.items_2 (id int PRIMARY KEY);
            CREATE TABLE {schema}.orders (id int PRIMARY KEY);
            CREATE TABLE {schema}.orders_archive (id int PRIMARY KEY);
            CREATE TABLE {schema}.other (id int, k int, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
            CREATE TABLE {schema}.items_9 PARTITION OF {schema}.other FOR VALUES IN (9);
            INSERT INTO {schema}.events VALUES (1, '2024-05-01'), (2, '2010-01-01'), (3, '1950-01-01');
            INSERT INTO {schema}.items_1 VALUES (1);
            INSERT INTO {schema}.orders VALUES (1);
            INSERT INTO {schema}.orders_archive VALUES (1);
            INSERT INTO {schema}.other VALUES (1, 9);
            """);
        // A partitioned table (whose partitions have other names, one of them matching an exclusion), an excluded table,
        // and a pattern that also matches a partition of a table that is not selected.
        var selection = new TableSelection();
        selection.IncludeTables.AddRange([new NamePattern($"{schema}.events"), new NamePattern($"{schema}.items_*"), new NamePattern($"{schema}.orders*")]);
        selection.ExcludeTables.AddRange([new NamePattern($"{schema}.orders_archive"), new NamePattern($"{schema}.events_archive")]);

        var report = await new PrecheckRunner().RunAsync(new PrecheckOptions
        {
            Source = Pair.Source.Spec(Pair.SourceDb),
            Target = Pair.Target.Spec(Pair.TargetDb),
            TaskName = "t_" + schema,
            Selection = selection,
            ConnectTimeoutSeconds = 5,
        }, CancellationToken.None);

        var task = "agree_" + schema;
        var schemaOptions = new SchemaMigrationOptions { Source = Pair.Source.Spec(Pair.SourceDb), Target = Pair.Target.Spec(Pair.TargetDb), TaskName = task, Selection = selection };
        await new SchemaMigrator(NullLogger.Instance).CreatePreDataAsync(schemaOptions, CancellationToken.None);
        var copier = new FullCopier(NullLogger.Instance);
        await copier.RunAsync(new FullCopyOptions
        {
            Source = Pair.Source.Spec(Pair.SourceDb),
            Target = Pair.Target.Spec(Pair.TargetDb),
            TaskName = task,
            Selection = selection,
            Jobs = 2,
            RetryWindow = TimeSpan.FromSeconds(10),
        }, CancellationToken.None);

        string[] Names(params string[] tables) => tables.Select(t => new QualifiedName(schema, t).ToString()).Order(StringComparer.Ordinal).ToArray();
        var copied = copier.Progress.Tables.Select(t => t.Table.ToString()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Names("events_2024", "Events Old", "events_archive", "items_1", "items_2", "orders"), copied);
        // The precheck names the same tables, plus the partitioned table above the partitions (it holds no rows).
        Assert.Equal(Names("events", "events_2024", "Events Old", "events_archive", "items_1", "items_2", "orders"),
            report.Tables.Select(t => t.ToString()).Order(StringComparer.Ordinal).ToArray());
        Assert.Contains(report.Checks, c => c.Id == "source.tables" && c.Message.StartsWith("7 tables selected (6 holding rows)", StringComparison.Ordinal));
        Assert.Equal(3L, await Pair.Target.ScalarAsync<long>(Pair.TargetDb, $"SELECT count(*) FROM {schema}.events"));
        Assert.Equal(0L, await Pair.Target.ScalarAsync<long>(Pair.TargetDb, $"SELECT count(*) FROM pg_class WHERE relnamespace = '{schema}'::regnamespace AND relname IN ('orders_archive', 'items_9', 'other')"));
    }
}

public sealed class SelectionAgreementTests_12_to_17(Pg12To17 pair) : SelectionAgreementTestsBase(pair), IClassFixture<Pg12To17>;

public sealed class SelectionAgreementTests_15_to_17(Pg15To17 pair) : SelectionAgreementTestsBase(pair), IClassFixture<Pg15To17>;
