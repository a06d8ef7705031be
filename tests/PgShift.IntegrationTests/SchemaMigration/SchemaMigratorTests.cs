using Microsoft.Extensions.Logging.Abstractions;
using PgShift.Catalog;
using PgShift.IntegrationTests.Infrastructure;
using PgShift.Schema;
using PgShift.Selection;

namespace PgShift.IntegrationTests.SchemaMigration;

/// <summary>Each test uses its own pair of fresh databases, so targets never see each other's objects.</summary>
public abstract class SchemaMigratorTestsBase(TestServer source, TestServer target)
{
    protected const string Fixture = """
        CREATE ROLE pgshift_fixture_reader_tmp NOLOGIN;
        CREATE SCHEMA "Sales Dept";
        COMMENT ON SCHEMA "Sales Dept" IS 'sales';
        CREATE TYPE "Sales Dept".mood AS ENUM ('sad', 'ok', 'hap"py');
        CREATE TYPE "Sales Dept".addr AS (street text, zip int);
        CREATE DOMAIN "Sales Dept".pos AS int CHECK (VALUE > 0);
        CREATE DOMAIN "Sales Dept".small_pos AS "Sales Dept".pos CHECK (VALUE < 1000);
        CREATE FUNCTION "Sales Dept".dflt() RETURNS int LANGUAGE sql AS 'select 7';
        CREATE TABLE "Sales Dept"."Order" (
            id int GENERATED ALWAYS AS IDENTITY (START WITH 10) PRIMARY KEY,
            m "Sales Dept".mood[], p "Sales Dept".small_pos DEFAULT "Sales Dept".dflt(), "select" text,
            total numeric CHECK (total >= 0), g int GENERATED ALWAYS AS (id * 2) STORED, a "Sales Dept".addr, secret text);
        COMMENT ON COLUMN "Sales Dept"."Order"."select" IS 'the choice';
        CREATE TABLE "Sales Dept".line (id serial PRIMARY KEY, order_id int REFERENCES "Sales Dept"."Order"(id) ON DELETE CASCADE,
            parent int REFERENCES "Sales Dept".line DEFERRABLE INITIALLY DEFERRED, qty int, UNIQUE (order_id, qty));
        CREATE INDEX line_partial ON "Sales Dept".line (order_id) WHERE order_id > 5;
        CREATE INDEX line_expr ON "Sales Dept".line ((qty * 2));
        CREATE VIEW "Sales Dept".v1 AS SELECT id, "select" FROM "Sales Dept"."Order";
        CREATE VIEW "Sales Dept".v2 AS SELECT * FROM "Sales Dept".v1 WHERE id > 1 WITH CASCADED CHECK OPTION;
        GRANT SELECT ON "Sales Dept".v2 TO pgshift_fixture_reader_tmp;
        CREATE TABLE public.parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE public.parted_a PARTITION OF public.parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
        CREATE TABLE public.parted_d PARTITION OF public.parted DEFAULT;
        CREATE TABLE public.nokey (v text);
        CREATE FUNCTION public.trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.total := coalesce(NEW.total, 0); RETURN NEW; END$$;
        CREATE TRIGGER t1 BEFORE INSERT ON "Sales Dept"."Order" FOR EACH ROW WHEN (NEW.total IS NULL) EXECUTE PROCEDURE public.trg();
        ALTER TABLE "Sales Dept"."Order" DISABLE TRIGGER t1;
        COMMENT ON TABLE "Sales Dept"."Order" IS 'orders';
        INSERT INTO "Sales Dept"."Order"("select", total) VALUES ('a', 1), ('b', 2);
        CREATE SEQUENCE public.counter INCREMENT BY 5 MINVALUE 3 MAXVALUE 1000 CYCLE;
        SELECT nextval('public.counter'), nextval('public.counter');
        CREATE MATERIALIZED VIEW public.mv AS SELECT count(*) AS n FROM "Sales Dept"."Order";
        CREATE AGGREGATE public.mysum (int) (SFUNC = int4pl, STYPE = int, INITCOND = '0');
        CREATE RULE no_delete AS ON DELETE TO public.nokey DO INSTEAD NOTHING;
        CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
        CREATE TABLE public.spans (id int PRIMARY KEY, r public.floatrange, EXCLUDE USING gist (r WITH &&));
        """;

    protected TestServer Source { get; } = source;
    protected TestServer Target { get; } = target;

    protected async Task<(string Src, string Tgt)> FreshPairAsync(string? extraSql = null)
    {
        var src = await Source.CreateDatabaseAsync("ssrc");
        var tgt = await Target.CreateDatabaseAsync("stgt");
        // Roles belong to the cluster, not the database: the grantee exists on both servers, as PgShift expects.
        const string role = "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgshift_fixture_reader') THEN CREATE ROLE pgshift_fixture_reader NOLOGIN; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$";
        await Source.ExecuteAsync("postgres", role);
        await Target.ExecuteAsync("postgres", role);
        await Source.ExecuteAsync(src, Fixture.Replace("CREATE ROLE pgshift_fixture_reader_tmp NOLOGIN;", "", StringComparison.Ordinal)
            .Replace("pgshift_fixture_reader_tmp", "pgshift_fixture_reader", StringComparison.Ordinal) + (extraSql ?? ""));
        return (src, tgt);
    }

    protected SchemaMigrationOptions Options(string src, string tgt, Action<TableSelection>? select = null, NameMapping? mapping = null, ColumnExclusions? excluded = null)
    {
        var selection = new TableSelection();
        select?.Invoke(selection);
        return new SchemaMigrationOptions
        {
            Source = Source.Spec(src),
            Target = Target.Spec(tgt),
            Selection = selection,
            Mapping = mapping ?? NameMapping.None,
            ExcludedColumns = excluded ?? new ColumnExclusions(),
            TaskName = "schema_test",
        };
    }

    private const string PostDataCount = """
        SELECT (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('Sales Dept', 'public', 'sales'))
             + (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype IN ('p', 'u', 'f', 'x') AND n.nspname IN ('Sales Dept', 'public', 'sales'))
             + (SELECT count(*) FROM pg_trigger t WHERE NOT t.tgisinternal)
        """;

    [Fact]
    public async Task Pre_data_has_no_keys_indexes_or_triggers_and_post_data_adds_them_all()
    {
        var (src, tgt) = await FreshPairAsync();
        var migrator = new SchemaMigrator(NullLogger.Instance);
        var pre = await migrator.CreatePreDataAsync(Options(src, tgt), CancellationToken.None);
        Assert.Empty(pre.Skipped);
        Assert.Equal(0L, await Target.ScalarAsync<long>(tgt, PostDataCount));
        Assert.Equal(1L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_class WHERE relname = 'Order'"));

        await migrator.CreatePostDataAsync(Options(src, tgt), CancellationToken.None);
        var expected = await Source.ScalarAsync<long>(src, PostDataCount);
        Assert.True(expected >= 9);
        Assert.Equal(expected, await Target.ScalarAsync<long>(tgt, PostDataCount));
        Assert.Equal("D", await Target.ScalarAsync<string>(tgt, "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 't1'"));
        Assert.Equal("c", await Target.ScalarAsync<string>(tgt, "SELECT confdeltype::text FROM pg_constraint WHERE conname = 'line_order_id_fkey'"));
        Assert.True(await Target.ScalarAsync<bool>(tgt, "SELECT condeferred FROM pg_constraint WHERE conname = 'line_parent_fkey'"));
        Assert.Equal("(order_id > 5)", await Target.ScalarAsync<string>(tgt, "SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = '\"Sales Dept\".line_partial'::regclass"));
        // Sequence values follow the source: the standalone one and the identity column's.
        Assert.Equal(8L, await Target.ScalarAsync<long>(tgt, "SELECT last_value FROM public.counter"));
        Assert.Equal(11L, await Target.ScalarAsync<long>(tgt, "SELECT last_value FROM \"Sales Dept\".\"Order_id_seq\""));
        Assert.Equal("orders", await Target.ScalarAsync<string>(tgt, "SELECT obj_description('\"Sales Dept\".\"Order\"'::regclass, 'pg_class')"));
        Assert.Equal("the choice", await Target.ScalarAsync<string>(tgt, "SELECT col_description('\"Sales Dept\".\"Order\"'::regclass, 4)"));
        Assert.Equal("cascaded", await Target.ScalarAsync<string>(tgt, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'v2'") is { } o ? o.Split('=')[1] : null);
        Assert.True(await Target.ScalarAsync<bool>(tgt, "SELECT has_table_privilege('pgshift_fixture_reader', '\"Sales Dept\".v2', 'SELECT')"));
        Assert.Equal(new[] { "sad", "ok", "hap\"py" }, await Target.ScalarAsync<string[]>(tgt, "SELECT array_agg(enumlabel ORDER BY enumsortorder)::text[] FROM pg_enum"));
        Assert.Equal(1L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_rewrite WHERE rulename = 'no_delete'"));
        Assert.Equal(6, await Target.ScalarAsync<int>(tgt, "SELECT public.mysum(x) FROM (VALUES (1), (2), (3)) v(x)"));
        // The range type's constructor functions come with the type: neither skipped nor created twice.
        Assert.Equal("[1,2)", await Target.ScalarAsync<string>(tgt, "SELECT public.floatrange(1, 2)::text"));
        Assert.Equal(1L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_constraint WHERE contype = 'x' AND conrelid = 'public.spans'::regclass"));
    }

    [Fact]
    public async Task Rerun_of_both_phases_is_safe_and_creates_nothing_new()
    {
        var (src, tgt) = await FreshPairAsync();
        var migrator = new SchemaMigrator(NullLogger.Instance);
        await migrator.CreatePreDataAsync(Options(src, tgt), CancellationToken.None);
        await migrator.CreatePostDataAsync(Options(src, tgt), CancellationToken.None);
        var before = await CatalogFingerprint.TakeAsync(Target, tgt);
        var pre = await migrator.CreatePreDataAsync(Options(src, tgt), CancellationToken.None);
        var post = await migrator.CreatePostDataAsync(Options(src, tgt), CancellationToken.None);
        Assert.Empty(pre.Created);
        Assert.Empty(post.Created);
        Assert.NotEmpty(post.AlreadyPresent);
        Assert.Equal(before, await CatalogFingerprint.TakeAsync(Target, tgt));
    }

    [Fact]
    public async Task Mapping_renames_schema_table_and_column_and_keys_and_indexes_follow()
    {
        var (src, tgt) = await FreshPairAsync();
        var mapping = new NameMapping();
        mapping.Schemas["Sales Dept"] = "sales";
        mapping.Tables[new QualifiedName("Sales Dept", "Order")] = "orders";
        mapping.Columns[new QualifiedName("Sales Dept", "Order")] = new Dictionary<string, string> { ["select"] = "choice" };
        mapping.Columns[new QualifiedName("Sales Dept", "line")] = new Dictionary<string, string> { ["qty"] = "quantity" };
        var migrator = new SchemaMigrator(NullLogger.Instance);
        var pre = await migrator.CreatePreDataAsync(Options(src, tgt, mapping: mapping), CancellationToken.None);
        await migrator.CreatePostDataAsync(Options(src, tgt, mapping: mapping), CancellationToken.None);

        Assert.Equal(0L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_namespace WHERE nspname = 'Sales Dept'"));
        Assert.Equal("choice", await Target.ScalarAsync<string>(tgt, "SELECT attname FROM pg_attribute WHERE attrelid = 'sales.orders'::regclass AND attnum = 4"));
        Assert.Equal("PRIMARY KEY (id)", await Target.ScalarAsync<string>(tgt, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sales.orders'::regclass AND contype = 'p'"));
        Assert.Equal("FOREIGN KEY (order_id) REFERENCES sales.orders(id) ON DELETE CASCADE",
            await Target.ScalarAsync<string>(tgt, "SET search_path = ''; SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'line_order_id_fkey'"));
        Assert.Equal("UNIQUE (order_id, quantity)", await Target.ScalarAsync<string>(tgt, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'sales.line'::regclass AND contype = 'u'"));
        Assert.Contains("(quantity * 2)", await Target.ScalarAsync<string>(tgt, "SELECT pg_get_indexdef('sales.line_expr'::regclass)"), StringComparison.Ordinal);
        Assert.Contains("orders", await Target.ScalarAsync<string>(tgt, "SELECT pg_get_viewdef('sales.v1'::regclass)"), StringComparison.Ordinal);
        Assert.Equal(1L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'sales.orders'::regclass AND tgname = 't1'"));
        Assert.Equal(11L, await Target.ScalarAsync<long>(tgt, "SELECT last_value FROM sales.\"Order_id_seq\""));
        // dflt's body says "select 7": a function body is text, so its mention of a renamed name is reported, not rewritten.
        Assert.Contains(pre.Warnings, w => w.Contains("dflt()", StringComparison.Ordinal) && w.Contains("select", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Excluded_table_and_column_are_not_created_and_dependents_are_reported()
    {
        var (src, tgt) = await FreshPairAsync();
        var excluded = new ColumnExclusions();
        excluded.Add("\"Sales Dept\".Order.secret");
        var migrator = new SchemaMigrator(NullLogger.Instance);
        var options = Options(src, tgt, s => s.ExcludeTables.Add(new NamePattern("public.nokey")), excluded: excluded);
        await migrator.CreatePreDataAsync(options, CancellationToken.None);
        await migrator.CreatePostDataAsync(options, CancellationToken.None);
        Assert.Equal(0L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_class WHERE relname = 'nokey'"));
        Assert.Equal(0L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_attribute WHERE attrelid = '\"Sales Dept\".\"Order\"'::regclass AND attname = 'secret'"));
        Assert.Equal(0L, await Target.ScalarAsync<long>(tgt, "SELECT count(*) FROM pg_rewrite WHERE rulename = 'no_delete'"));

        var (src2, tgt2) = await FreshPairAsync();
        var onlyViewBase = Options(src2, tgt2, s => s.ExcludeTables.Add(new NamePattern("\"Sales Dept\".Order".Replace("\"", "", StringComparison.Ordinal))));
        var report = await migrator.CreatePreDataAsync(onlyViewBase, CancellationToken.None);
        Assert.Contains(report.Skipped, s => s.Object == "view \"Sales Dept\".\"v1\"" && s.Reason.Contains("not selected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failing_statement_names_object_and_error_and_leaves_nothing()
    {
        var (src, tgt) = await FreshPairAsync();
        await Target.ExecuteAsync(tgt, "CREATE SCHEMA \"Sales Dept\"; CREATE TABLE \"Sales Dept\".line (x int);");
        var before = await CatalogFingerprint.TakeAsync(Target, tgt);
        var ex = await Assert.ThrowsAsync<PgShiftException>(() => new SchemaMigrator(NullLogger.Instance).CreatePreDataAsync(Options(src, tgt), CancellationToken.None));
        Assert.Contains("table \"Sales Dept\".\"line\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("already exists", ex.Message, StringComparison.Ordinal);
        Assert.Contains("CREATE TABLE", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, await CatalogFingerprint.TakeAsync(Target, tgt));
    }
}

public sealed class SchemaMigratorTests_12_to_17() : SchemaMigratorTestsBase(TestServer.Pg12, TestServer.Pg17);

public sealed class SchemaMigratorTests_15_to_17() : SchemaMigratorTestsBase(TestServer.Pg15, TestServer.Pg17);
