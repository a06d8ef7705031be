namespace PgShift.Schema;

public enum ObjectKind
{
    Schema,
    Extension,
    Collation,
    Type,
    Function,
    /// <summary>After functions: a view or default may need a cast that pg_depend does not record (one without a function).</summary>
    Cast,
    Sequence,
    Table,
    Operator,
    OperatorFamily,
    OperatorClass,
    Aggregate,
    View,
    MaterializedView,
    Rule,
    Policy,
    Statistics,
    Publication,
    DefaultPrivileges,
    AccessMethod,
    ForeignDataWrapper,
    ForeignServer,
    TextSearchParser,
    TextSearchTemplate,
    TextSearchDictionary,
    TextSearchConfiguration,
    Transform,
    Conversion,
}

/// <summary>
/// One object created before the data: its catalog key (e.g. <c>rel:16384</c>), the statements that
/// create it on the target, and the keys of the objects it depends on (from pg_depend).
/// </summary>
public sealed class SchemaObject(string key, ObjectKind kind, string schema, string name, string display)
{
    public string Key { get; } = key;
    public ObjectKind Kind { get; } = kind;
    public string Schema { get; } = schema;
    public string Name { get; } = name;
    /// <summary>For a person: "table \"s\".\"t\"".</summary>
    public string Display { get; } = display;
    public List<string> Statements { get; } = new();
    public HashSet<string> DependsOn { get; } = new(StringComparer.Ordinal);
    /// <summary>Statements run after every object exists (OWNED BY, comments, grants).</summary>
    public List<string> Finishing { get; } = new();
    /// <summary>What follows ALTER to address it (e.g. <c>FUNCTION s.f(integer)</c>), for moving it to a mapped schema; null when it moves with its owner.</summary>
    public string? AlterTarget { get; set; }
    /// <summary>
    /// Statements run after the data (kind, name, statement): a domain's NOT VALID checks, which rows copied may break;
    /// a view's real definition when it needs a table's key (created before as a placeholder with the same columns).
    /// </summary>
    public List<(PostDataKind Kind, string Name, string Sql)> AfterData { get; } = new();
    /// <summary>Why it is not migrated (a C function, a base type); null when it is.</summary>
    public string? SkipReason { get; set; }
    /// <summary>The key of the object left out that this one is left out with (it depends on it); null when its own reason is why.</summary>
    public string? SkippedWith { get; set; }
    /// <summary>For a sequence OWNED BY a column: its table's key (the sequence goes where its table goes).</summary>
    public string? OwnerKey { get; set; }

    public override string ToString() => Display;
}

/// <summary>A statement built after the data (key, index, foreign key, trigger), on one table.</summary>
/// <param name="Table">The source table.</param>
/// <param name="ObjectName">The constraint, index or trigger name (unquoted; an index's schema is the table's).</param>
/// <param name="ReferencedTable">For a foreign key, the referenced source table.</param>
public sealed record PostDataStatement(
    PostDataKind Kind,
    PgShift.Catalog.QualifiedName Table,
    string ObjectName,
    string Sql,
    long TableBytes,
    PgShift.Catalog.QualifiedName? ReferencedTable = null)
{
    public string Display => $"{Kind switch { PostDataKind.Constraint => "constraint", PostDataKind.Index => "index", PostDataKind.ForeignKey => "foreign key", PostDataKind.Trigger => "trigger", PostDataKind.DomainConstraint => "domain constraint", PostDataKind.View => "view", _ => "statement" }} {PgShift.Catalog.Sql.Ident(ObjectName)} on {Table}";
}

public enum PostDataKind
{
    Constraint,
    Index,
    ForeignKey,
    Trigger,
    /// <summary>A domain's NOT VALID check, added once every table is copied.</summary>
    DomainConstraint,
    /// <summary>A view's definition that needs a key built after the data (GROUP BY a primary key): CREATE OR REPLACE VIEW over its placeholder.</summary>
    View,
    Other,
}
