using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;
using PgShift.Stream;

namespace PgShift.Tests.Stream;

public class ChangeStatementsTests
{
    /// <summary>Source public.t (id key, "Odd ""name""", secret, big) → target "App"."select" with secret excluded and the odd column renamed.</summary>
    private static readonly StreamTable Table = new()
    {
        Source = new QualifiedName("public", "t"),
        Target = new QualifiedName("App", "select"),
        Columns = [("id", 23u, true), ("Odd \"name\"", 25u, true), ("secret", 25u, true), ("big", 25u, true)],
        TargetColumns = ["id", "renamed \"q\"", null, "big"],
        TargetTypes = ["pg_catalog.int4", "pg_catalog.text", null, "pg_catalog.text"],
        SyncLsn = new NpgsqlLogSequenceNumber(0),
    };

    private static readonly ChangeStatements Keyed = new(Table, [true, false, false, false], fullIdentity: false, ConflictPolicy.Error);

    private static ColumnValue V(string? text) => new(text, false);

    /// <summary>The statement of a change as the applier builds it: <paramref name="old"/> is the old key (or row) the change carries, if any.</summary>
    private static (string Sql, object?[] Values) Build(ChangeStatements statements, RowChangeKind kind, ColumnValue[]? newRow, ColumnValue[]? old)
    {
        var identity = ChangeStatements.IdentityOf(new RowEvent(kind, 1, old, newRow, DateTime.UtcNow));
        var shape = statements.ShapeOf(kind, newRow, identity) ?? throw new InvalidOperationException("no statement");
        var cmd = statements.Single(shape, newRow, identity);
        Assert.All(cmd.Parameters, p => Assert.Equal(NpgsqlDbType.Unknown, p.NpgsqlDbType));
        return (cmd.CommandText, cmd.Parameters.Select(p => p.Value is DBNull ? null : p.Value).ToArray());
    }

    [Fact]
    public void An_insert_quotes_odd_names_leaves_excluded_columns_out_and_passes_values_as_parameters()
    {
        var (sql, values) = Build(Keyed, RowChangeKind.Insert, [V("1"), V("it's"), V("hidden"), V(null)], null);
        Assert.Equal(""""INSERT INTO "App"."select" ("id", "renamed ""q""", "big") OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3)"""", sql);
        Assert.Equal(new object?[] { "1", "it's", null }, values);
    }

    [Fact]
    public void An_insert_under_the_ignore_policy_skips_a_key_that_exists()
    {
        var ignoring = new ChangeStatements(Table, [true, false, false, false], fullIdentity: false, ConflictPolicy.Ignore);
        var (sql, _) = Build(ignoring, RowChangeKind.Insert, [V("1"), V("a"), V("b"), V("c")], null);
        Assert.EndsWith(" ON CONFLICT DO NOTHING", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void An_update_sets_changed_columns_only_keeping_unchanged_toast_values_and_finds_its_row_by_the_key()
    {
        var (sql, values) = Build(Keyed, RowChangeKind.Update, [V("7"), V("new"), V("x"), ColumnValue.UnchangedToast], null);
        Assert.Equal(""""UPDATE ONLY "App"."select" SET "id" = $1, "renamed ""q""" = $2 WHERE "id" = $3"""", sql);
        Assert.Equal(new object?[] { "7", "new", "7" }, values);
    }

    [Fact]
    public void A_key_change_finds_the_row_by_its_old_key_and_sets_the_new_one()
    {
        var (sql, values) = Build(Keyed, RowChangeKind.Update, [V("8"), V("v"), V("x"), V("big")], [V("7"), ColumnValue.Null, ColumnValue.Null, ColumnValue.Null]);
        Assert.Equal(""""UPDATE ONLY "App"."select" SET "id" = $1, "renamed ""q""" = $2, "big" = $3 WHERE "id" = $4"""", sql);
        Assert.Equal(new object?[] { "8", "v", "big", "7" }, values);
    }

    [Fact]
    public void An_update_of_excluded_or_unchanged_columns_only_sends_nothing()
    {
        ColumnValue[] row = [V("1"), ColumnValue.UnchangedToast, V("secret"), ColumnValue.UnchangedToast];
        Assert.Null(new ChangeStatements(Table, [true, false, false, false], fullIdentity: false, ConflictPolicy.Error)
            .ShapeOf(RowChangeKind.Update, [ColumnValue.UnchangedToast, ColumnValue.UnchangedToast, V("secret"), ColumnValue.UnchangedToast], row));
    }

    [Fact]
    public void A_delete_by_key_and_a_change_without_a_key_is_refused_with_what_to_do()
    {
        var (sql, values) = Build(Keyed, RowChangeKind.Delete, null, [V("3"), ColumnValue.Null, ColumnValue.Null, ColumnValue.Null]);
        Assert.Equal("""DELETE FROM ONLY "App"."select" WHERE "id" = $1""", sql);
        Assert.Equal(new object?[] { "3" }, values);

        var error = Assert.Throws<PgShiftException>(() => Keyed.ShapeOf(RowChangeKind.Delete, null, [ColumnValue.UnchangedToast, V("a"), V("b"), V("c")]));
        Assert.Contains("carries no key", error.Message, StringComparison.Ordinal);
        Assert.Contains("REPLICA IDENTITY FULL", error.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void With_replica_identity_full_one_row_is_picked_by_ctid_nulls_match_with_is_null_and_alike_printing_rows_are_preferred()
    {
        var table = new StreamTable
        {
            Source = new QualifiedName("public", "f"), Target = new QualifiedName("public", "f"),
            // numeric (1700): = holds for 1.0 and 1.00; json (114): no equality, compared by its printed text.
            Columns = [("n", 1700u, true), ("j", 114u, false), ("t", 25u, true)],
            TargetColumns = ["n", "j", "t"], TargetTypes = ["pg_catalog.\"numeric\"", "pg_catalog.json", "pg_catalog.text"],
            SyncLsn = new NpgsqlLogSequenceNumber(0),
        };
        var full = new ChangeStatements(table, [false, false, false], fullIdentity: true, ConflictPolicy.Error);
        var (sql, values) = Build(full, RowChangeKind.Delete, null, [V("1.0"), V("{ }"), V(null)]);
        Assert.Equal("""DELETE FROM ONLY "public"."f" WHERE ctid = (SELECT ctid FROM ONLY "public"."f" WHERE "n" = $1 AND "j"::text = $2::pg_catalog.json::text AND "t" IS NULL ORDER BY ("n"::text = $1::pg_catalog."numeric"::text)::int DESC LIMIT 1)""", sql);
        Assert.Equal(new object?[] { "1.0", "{ }" }, values);
    }

    [Fact]
    public void A_partitioned_target_is_changed_without_only_and_a_table_without_target_columns_inserts_default_values()
    {
        var partitioned = new StreamTable
        {
            Source = new QualifiedName("public", "p"), Target = new QualifiedName("public", "p"),
            Columns = [("id", 23u, true)], TargetColumns = ["id"], TargetTypes = ["pg_catalog.int4"],
            SyncLsn = new NpgsqlLogSequenceNumber(0), TargetPartitioned = true,
        };
        var (sql, _) = Build(new ChangeStatements(partitioned, [true], false, ConflictPolicy.Error), RowChangeKind.Delete, null, [V("1")]);
        Assert.Equal("""DELETE FROM "public"."p" WHERE "id" = $1""", sql);

        var empty = new StreamTable
        {
            Source = new QualifiedName("public", "e"), Target = new QualifiedName("public", "e"),
            Columns = [("secret", 25u, true)], TargetColumns = [null], SyncLsn = new NpgsqlLogSequenceNumber(0),
        };
        var (insert, values) = Build(new ChangeStatements(empty, [false], true, ConflictPolicy.Error), RowChangeKind.Insert, [V("x")], null);
        Assert.Equal("""INSERT INTO "public"."e" DEFAULT VALUES""", insert);
        Assert.Empty(values);
    }

    [Fact]
    public void The_same_shape_gives_the_same_text_so_the_target_prepares_it_once()
    {
        var statements = new ChangeStatements(Table, [true, false, false, false], false, ConflictPolicy.Error);
        var a = Build(statements, RowChangeKind.Update, [V("1"), V("a"), V("x"), ColumnValue.UnchangedToast], null).Sql;
        var b = Build(statements, RowChangeKind.Update, [V("2"), V("b"), V("y"), ColumnValue.UnchangedToast], null).Sql;
        Assert.Same(a, b);
        var nullKey = Build(statements, RowChangeKind.Delete, null, [V(null), ColumnValue.Null, ColumnValue.Null, ColumnValue.Null]).Sql;
        Assert.Equal("""DELETE FROM ONLY "App"."select" WHERE "id" IS NULL""", nullKey);
    }

    [Fact]
    public void A_key_is_shown_to_a_person_shortened_and_with_null()
    {
        Assert.Equal("(id=42)", Keyed.KeyText([V("42"), V("x"), V("y"), V("z")]));
        var full = new ChangeStatements(Table, [true, false, false, false], fullIdentity: true, ConflictPolicy.Error);
        Assert.Equal($"(id=1, Odd \"name\"={new string('a', 40)}..., secret=NULL, big=b)", full.KeyText([V("1"), V(new string('a', 50)), V(null), V("b")]));
    }

    [Fact]
    public void Folded_changes_become_set_statements_with_one_text_array_per_column_cast_to_the_target_type()
    {
        Assert.Equal("""DELETE FROM ONLY "App"."select" AS t USING unnest($1::text[]) AS v(c0) WHERE t."id" = v.c0::pg_catalog.int4""",
            ChangeStatements.SetDeleteSql(Table, [0]));
        Assert.Equal("""UPDATE ONLY "App"."select" AS t SET "big" = v.c1::pg_catalog.text FROM unnest($1::text[], $2::text[]) AS v(c0, c1) WHERE t."id" = v.c0::pg_catalog.int4""",
            ChangeStatements.SetUpdateSql(Table, [0], [3]));
        Assert.Equal(""""INSERT INTO "App"."select" ("id", "renamed ""q""", "big") OVERRIDING SYSTEM VALUE SELECT v.c0::pg_catalog.int4, v.c1::pg_catalog.text, v.c2::pg_catalog.text FROM unnest($1::text[], $2::text[], $3::text[]) AS v(c0, c1, c2) ON CONFLICT DO NOTHING"""",
            ChangeStatements.SetInsertSql(Table, [0, 1, 3], ConflictPolicy.Ignore));
        var cmd = ChangeStatements.SetCommand("SELECT", [["1", "2"], [null, "b"]]);
        Assert.Equal(2, cmd.Parameters.Count);
        Assert.All(cmd.Parameters, p => Assert.Equal(NpgsqlDbType.Array | NpgsqlDbType.Text, p.NpgsqlDbType));
        Assert.Equal(new string?[] { null, "b" }, cmd.Parameters[1].Value);
    }

    [Fact]
    public void A_truncate_names_every_table_with_only_and_may_restart_identities()
    {
        QualifiedName[] tables = [new("App", "select"), new("public", "Other \"t\"")];
        Assert.Equal(""""TRUNCATE ONLY "App"."select", "public"."Other ""t""" RESTART IDENTITY"""", ChangeStatements.TruncateSql(tables, restartIdentity: true));
        Assert.Equal("TRUNCATE ONLY \"App\".\"select\", \"public\".\"Other \"\"t\"\"\"", ChangeStatements.TruncateSql(tables, restartIdentity: false));
        Assert.Equal("DELETE FROM ONLY \"App\".\"select\"", ChangeStatements.DeleteAllSql(tables[0]));
    }
}
