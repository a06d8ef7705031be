namespace PgShift.Catalog;

/// <summary>The one quoting function for identifiers and literals that PgShift writes into SQL.</summary>
public static class Sql
{
    /// <summary>Always quotes: correct for mixed case, reserved words, spaces, quotes and unicode alike.</summary>
    public static string Ident(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Qualified(string schema, string name) => Ident(schema) + "." + Ident(name);

    /// <summary>A string literal, for the few places where PostgreSQL takes no parameter (DDL, SET).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}

/// <summary>A schema-qualified object name.</summary>
public readonly record struct QualifiedName(string Schema, string Name)
{
    public string Quoted => Sql.Qualified(Schema, Name);

    public override string ToString() => Quoted;

}
