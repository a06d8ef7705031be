using PgShift.Catalog;
using PgShift.Schema;
using PgShift.Selection;

namespace PgShift.Tests.Schema;

public sealed class PostDataMapperTests
{
    private static readonly QualifiedName Orders = new("app", "orders");
    private static readonly QualifiedName Customers = new("app", "customers");

    private static PostDataStatement Index(QualifiedName table, string name, string sql) => new(PostDataKind.Index, table, name, sql, 0);

    [Fact]
    public void Without_a_mapping_the_statement_is_the_sources()
    {
        var s = Index(Orders, "orders_at", "CREATE INDEX orders_at ON \"app\".\"orders\" USING btree (at)");
        var mapper = new PostDataMapper(NameMapping.None);

        Assert.Equal(s.Sql, mapper.Map(s));
        Assert.Equal("\"app\".\"orders\"|\"orders_at\"", mapper.Key(s));
    }

    [Fact]
    public void Renamed_schema_renames_the_table_and_the_names_the_server_deparsed_in_expressions()
    {
        var mapping = new NameMapping();
        mapping.Schemas["app"] = "shop";
        var s = Index(Orders, "orders_mood", "CREATE INDEX orders_mood ON \"app\".\"orders\" USING btree (((mood)::app.mood), app.f(id))");

        var mapper = new PostDataMapper(mapping, new Dictionary<string, string> { ["app"] = "app" });

        Assert.Equal("CREATE INDEX orders_mood ON \"shop\".\"orders\" USING btree (((mood)::\"shop\".mood), \"shop\".f(id))", mapper.Map(s));
        Assert.Equal("\"shop\".\"orders\"|\"orders_mood\"", mapper.Key(s));
    }

    [Fact]
    public void Renamed_schema_leaves_names_that_only_end_with_it()
    {
        var mapping = new NameMapping();
        mapping.Schemas["app"] = "shop";
        var s = Index(Orders, "i", "CREATE INDEX i ON \"app\".\"orders\" USING btree (myapp.f(id), \"x.app\".g(id))");

        var mapped = new PostDataMapper(mapping, new Dictionary<string, string> { ["app"] = "app" }).Map(s);

        Assert.Equal("CREATE INDEX i ON \"shop\".\"orders\" USING btree (myapp.f(id), \"x.app\".g(id))", mapped);
    }

    [Fact]
    public void Renamed_table_and_renamed_referenced_table_of_a_foreign_key()
    {
        var mapping = new NameMapping();
        mapping.Tables[Orders] = "purchases";
        mapping.Tables[Customers] = "clients";
        var fk = new PostDataStatement(PostDataKind.ForeignKey, Orders, "orders_customer_fkey",
            "ALTER TABLE ONLY \"app\".\"orders\" ADD CONSTRAINT \"orders_customer_fkey\" FOREIGN KEY (customer) REFERENCES \"app\".\"customers\"(id)", 0, Customers);

        var mapper = new PostDataMapper(mapping);

        Assert.Equal("ALTER TABLE ONLY \"app\".\"purchases\" ADD CONSTRAINT \"orders_customer_fkey\" FOREIGN KEY (customer) REFERENCES \"app\".\"clients\"(id)", mapper.Map(fk));
        Assert.Equal("\"app\".\"purchases\"|\"orders_customer_fkey\"", mapper.Key(fk));
    }

    [Fact]
    public void Renamed_column_is_renamed_back_for_the_statement_in_the_same_command()
    {
        var mapping = new NameMapping();
        mapping.Schemas["app"] = "shop";
        mapping.Columns[Orders] = new Dictionary<string, string> { ["total"] = "amount" };
        var s = new PostDataStatement(PostDataKind.Constraint, Orders, "orders_total_key",
            "ALTER TABLE ONLY \"app\".\"orders\" ADD CONSTRAINT \"orders_total_key\" UNIQUE (total)", 0);

        var mapped = new PostDataMapper(mapping).Map(s);

        Assert.Equal(
            "ALTER TABLE \"shop\".\"orders\" RENAME COLUMN \"amount\" TO \"total\";\n"
            + "ALTER TABLE ONLY \"shop\".\"orders\" ADD CONSTRAINT \"orders_total_key\" UNIQUE (total);\n"
            + "ALTER TABLE \"shop\".\"orders\" RENAME COLUMN \"total\" TO \"amount\"", mapped);
    }

    [Fact]
    public void Renamed_columns_of_the_referenced_table_are_renamed_back_too()
    {
        var mapping = new NameMapping();
        mapping.Columns[Customers] = new Dictionary<string, string> { ["id"] = "customer_id" };
        var fk = new PostDataStatement(PostDataKind.ForeignKey, Orders, "fk",
            "ALTER TABLE ONLY \"app\".\"orders\" ADD CONSTRAINT \"fk\" FOREIGN KEY (customer) REFERENCES \"app\".\"customers\"(id)", 0, Customers);

        var mapped = new PostDataMapper(mapping).Map(fk);

        Assert.StartsWith("ALTER TABLE \"app\".\"customers\" RENAME COLUMN \"customer_id\" TO \"id\";\n", mapped, StringComparison.Ordinal);
        Assert.EndsWith(";\nALTER TABLE \"app\".\"customers\" RENAME COLUMN \"id\" TO \"customer_id\"", mapped, StringComparison.Ordinal);
    }

    [Fact]
    public void Odd_identifiers_are_quoted_on_both_sides()
    {
        var table = new QualifiedName("My \"Odd\" Schema", "Order Items");
        var mapping = new NameMapping();
        mapping.Schemas["My \"Odd\" Schema"] = "select";
        mapping.Tables[table] = "Ünïcode \"T\"";
        mapping.Columns[table] = new Dictionary<string, string> { ["Total Sum"] = "order" };
        var s = new PostDataStatement(PostDataKind.Trigger, table, "Audit \"Me\"",
            "CREATE TRIGGER \"Audit \"\"Me\"\"\" AFTER INSERT ON \"My \"\"Odd\"\" Schema\".\"Order Items\" FOR EACH ROW EXECUTE FUNCTION \"My \"\"Odd\"\" Schema\".audit()", 0);

        var mapper = new PostDataMapper(mapping, new Dictionary<string, string> { ["My \"Odd\" Schema"] = "\"My \"\"Odd\"\" Schema\"" });
        var mapped = mapper.Map(s);

        Assert.Equal(
            "ALTER TABLE \"select\".\"Ünïcode \"\"T\"\"\" RENAME COLUMN \"order\" TO \"Total Sum\";\n"
            + "CREATE TRIGGER \"Audit \"\"Me\"\"\" AFTER INSERT ON \"select\".\"Ünïcode \"\"T\"\"\" FOR EACH ROW EXECUTE FUNCTION \"select\".audit();\n"
            + "ALTER TABLE \"select\".\"Ünïcode \"\"T\"\"\" RENAME COLUMN \"Total Sum\" TO \"order\"", mapped);
        Assert.Equal("\"select\".\"Ünïcode \"\"T\"\"\"|\"Audit \"\"Me\"\"\"", mapper.Key(s));
    }
}
