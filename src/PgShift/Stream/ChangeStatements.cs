using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Stream;

/// <summary>
/// The SQL text and parameters that apply changes of one table to the target, as the relation message of the stream
/// describes it (its key columns, its replica identity): one statement per change, the set statements of folded
/// changes, TRUNCATE. Pure: no connection, no I/O; the applier sends what this builds.
/// </summary>
internal sealed class ChangeStatements(StreamTable table, IReadOnlyList<bool> isKey, bool fullIdentity, ConflictPolicy conflicts)
{
    /// <summary>Which columns a single change sets, which identify its row, and which of those are NULL (bit i: column i).</summary>
    public readonly record struct Shape(RowChangeKind Kind, ulong Set, ulong Where, ulong Nulls);

    private readonly Dictionary<Shape, string> _statements = new();

    public static ChangeStatements For(StreamTable table, RelationEvent relation, ConflictPolicy conflicts)
        => new(table, relation.Columns.Select(c => c.IsKey).ToArray(), relation.ReplicaIdentity == 'f', conflicts);

    public StreamTable Table => table;

    /// <summary>The row values that find a change's row on the target: the old key (or old row), else the new row; null for an insert.</summary>
    public static ColumnValue[]? IdentityOf(RowEvent row)
        => row.Kind == RowChangeKind.Delete || row.Kind == RowChangeKind.Update ? row.Old ?? row.New! : null;

    /// <summary>
    /// The shape of a change's statement; null for an update that changes no migrated column (nothing to send).
    /// A change that must find its row and carries no key is an error.
    /// </summary>
    public Shape? ShapeOf(RowChangeKind kind, ColumnValue[]? newRow, ColumnValue[]? identity)
    {
        ulong set = 0, where = 0, nulls = 0;
        for (var i = 0; i < table.Columns.Count && i < 64; i++)
        {
            if (table.TargetColumns[i] is null)
            {
                continue;
            }
            if (kind == RowChangeKind.Insert || kind == RowChangeKind.Update && !newRow![i].Unchanged)
            {
                set |= 1UL << i;
            }
            if (identity is not null && (fullIdentity || isKey[i]) && !identity[i].Unchanged)
            {
                where |= 1UL << i;
                if (identity[i].Text is null)
                {
                    nulls |= 1UL << i;
                }
            }
        }
        if (kind == RowChangeKind.Update && set == 0)
        {
            return null;
        }
        // With REPLICA IDENTITY FULL and no column on the target (a table without columns), every row is the same.
        if (identity is not null && where == 0 && !fullIdentity)
        {
            throw new PgShiftException($"A change to {table.Source} carries no key to find its row on the target.",
                $"Give the table a primary key or REPLICA IDENTITY FULL on the source (ALTER TABLE {table.Source} REPLICA IDENTITY FULL).");
        }
        return new Shape(kind, set, where, nulls);
    }

    /// <summary>
    /// The statement of one change: parameters are the set (or inserted) values in column order, then the identifying
    /// values in column order (NULLs become IS NULL), each as unknown-typed text that the target parses into the
    /// column's type, as it would a literal.
    /// </summary>
    public NpgsqlBatchCommand Single(Shape shape, ColumnValue[]? newRow, ColumnValue[]? identity)
    {
        var columns = table.Columns.Count;
        // Tables of more than 64 columns are not cached: the masks cannot describe them.
        if (columns > 64 || !_statements.TryGetValue(shape, out var sql))
        {
            sql = SingleSql(shape.Kind, newRow, identity);
            if (columns <= 64)
            {
                _statements[shape] = sql;
            }
        }
        var cmd = new NpgsqlBatchCommand(sql);
        if (shape.Kind != RowChangeKind.Delete)
        {
            for (var i = 0; i < columns; i++)
            {
                if (table.TargetColumns[i] is not null && (shape.Kind == RowChangeKind.Insert || !newRow![i].Unchanged))
                {
                    AddParam(cmd, newRow![i].Text);
                }
            }
        }
        if (identity is not null)
        {
            for (var i = 0; i < columns; i++)
            {
                if (table.TargetColumns[i] is not null && (fullIdentity || isKey[i]) && !identity[i].Unchanged && identity[i].Text is not null)
                {
                    AddParam(cmd, identity[i].Text);
                }
            }
        }
        return cmd;
    }

    /// <summary>The row's key for a person (only built into an error message when a conflict happens).</summary>
    public string KeyText(ColumnValue[] values)
        => "(" + string.Join(", ", table.Columns.Select((c, i) => (c, i))
            .Where(x => fullIdentity || isKey[x.i])
            .Select(x => $"{x.c.Name}={(values[x.i].Text is { } v ? v.Length > 40 ? v[..40] + "..." : v : "NULL")}")) + ")";

    private string SingleSql(RowChangeKind kind, ColumnValue[]? newRow, ColumnValue[]? identity)
    {
        if (kind == RowChangeKind.Insert)
        {
            return InsertSql();
        }
        var sets = new List<string>();
        if (kind == RowChangeKind.Update)
        {
            for (var i = 0; i < table.Columns.Count; i++)
            {
                // An unchanged TOASTed value is not sent: the target keeps its own.
                if (table.TargetColumns[i] is { } col && !newRow![i].Unchanged)
                {
                    sets.Add($"{Sql.Ident(col)} = {Param(sets.Count + 1)}");
                }
            }
        }
        var where = RowMatch(identity!, sets.Count + 1);
        return kind == RowChangeKind.Update
            ? $"UPDATE {table.TargetOnly} SET {string.Join(", ", sets)} WHERE {where}"
            : $"DELETE FROM {table.TargetOnly} WHERE {where}";
    }

    private static string Param(int n) => "$" + n.ToString(CultureInfo.InvariantCulture);

    private string InsertSql()
    {
        var cols = new List<string>();
        var values = new List<string>();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (table.TargetColumns[i] is { } col)
            {
                cols.Add(Sql.Ident(col));
                values.Add(Param(values.Count + 1));
            }
        }
        var sql = cols.Count == 0
            ? $"INSERT INTO {table.Target} DEFAULT VALUES"
            : $"INSERT INTO {table.Target} ({string.Join(", ", cols)}) OVERRIDING SYSTEM VALUE VALUES ({string.Join(", ", values)})";
        return conflicts == ConflictPolicy.Ignore ? sql + " ON CONFLICT DO NOTHING" : sql;
    }

    /// <summary>
    /// The condition that finds the changed row by its identifying values, whose parameters are numbered from
    /// <paramref name="firstParam"/>. For REPLICA IDENTITY FULL, one of several identical rows is picked by ctid, so
    /// each change hits exactly one row.
    /// </summary>
    private string RowMatch(ColumnValue[] identity, int firstParam)
    {
        var n = firstParam;
        var conditions = new List<string>();
        var sameText = new List<string>();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (table.TargetColumns[i] is not { } col || !(fullIdentity || isKey[i]) || identity[i].Unchanged)
            {
                continue;
            }
            if (identity[i].Text is null)
            {
                conditions.Add($"{Sql.Ident(col)} IS NULL");
                continue;
            }
            var p = Param(n++);
            // Text forms are compared as the target prints the value (the value parsed into the column's type, then
            // printed), so that an input the type normalises (an XML declaration, a json's spacing) still matches.
            var printed = table.TargetTypes.Count > i && table.TargetTypes[i] is { } type ? $"{p}::{type}::text" : $"{p}::text";
            if (!table.Columns[i].HasEquality)
            {
                conditions.Add($"{Sql.Ident(col)}::text = {printed}");
            }
            else
            {
                conditions.Add($"{Sql.Ident(col)} = {p}");
                if (fullIdentity && !TextExactEquality.Contains(table.Columns[i].TypeOid))
                {
                    sameText.Add($"({Sql.Ident(col)}::text = {printed})::int");
                }
            }
        }
        // A table without columns (or with every column excluded) has only identical rows.
        var where = conditions.Count == 0 ? "true" : string.Join(" AND ", conditions);
        if (!fullIdentity)
        {
            return where;
        }
        // Of the rows that are equal, one whose values print the same as the source's: = holds for 0 and -0,
        // 1.0 and 1.00, 'a' and 'A' in citext, which are different rows to the application.
        var prefer = sameText.Count == 0 ? "" : $" ORDER BY {string.Join(" + ", sameText)} DESC";
        return $"ctid = (SELECT ctid FROM {table.TargetOnly} WHERE {where}{prefer} LIMIT 1)";
    }

    /// <summary>
    /// Built-in types whose equality holds only for values that print alike (bool, integers, oid, text, varchar, name,
    /// "char", bytea, uuid, date, time, timestamp, timestamptz): for these, = alone finds the very row.
    /// </summary>
    private static readonly HashSet<uint> TextExactEquality = [16, 17, 18, 19, 20, 21, 23, 25, 26, 1043, 1082, 1083, 1114, 1184, 2950];

    private static void AddParam(NpgsqlBatchCommand cmd, string? text)
        // Unknown-typed text: the target parses it into the column's type, as it would a literal.
        => cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = (object?)text ?? DBNull.Value });

    // ------------------------------------------------------------------------------------------ set statements
    // Folded changes (NetChanges) go as set statements: parameters are text arrays, one per column, unnested side by
    // side; each value is cast to the target column's type (without its modifier: the assignment applies it, as it
    // would to a literal). Rows are matched by equality on the key's target columns.

    /// <summary>A set statement with its arrays of values, one per column of <paramref name="values"/>.</summary>
    public static NpgsqlBatchCommand SetCommand(string sql, string?[][] values)
    {
        var cmd = new NpgsqlBatchCommand(sql);
        foreach (var column in values)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = column });
        }
        return cmd;
    }

    /// <summary>Deletes the rows whose keys are in the arrays (the key's columns, in order).</summary>
    public static string SetDeleteSql(StreamTable table, IReadOnlyList<int> keyColumns)
        => $"DELETE FROM {table.TargetOnly} AS t USING {Unnest(keyColumns)} WHERE {KeyMatch(table, keyColumns, keyColumns)}";

    /// <summary>Updates <paramref name="setColumns"/> of the rows whose keys are in the arrays (the key's columns, then the set ones).</summary>
    public static string SetUpdateSql(StreamTable table, IReadOnlyList<int> keyColumns, IReadOnlyList<int> setColumns)
    {
        var columns = keyColumns.Concat(setColumns).ToList();
        var sets = setColumns.Select(i => $"{Sql.Ident(table.TargetColumns[i]!)} = {Value(table, columns, i)}");
        return $"UPDATE {table.TargetOnly} AS t SET {string.Join(", ", sets)} FROM {Unnest(columns)} WHERE {KeyMatch(table, keyColumns, columns)}";
    }

    /// <summary>Inserts the rows of the arrays (<paramref name="columns"/>, in order).</summary>
    public static string SetInsertSql(StreamTable table, IReadOnlyList<int> columns, ConflictPolicy conflicts)
        => $"INSERT INTO {table.Target} ({string.Join(", ", columns.Select(i => Sql.Ident(table.TargetColumns[i]!)))}) OVERRIDING SYSTEM VALUE " +
           $"SELECT {string.Join(", ", columns.Select(i => Value(table, columns, i)))} FROM {Unnest(columns)}" +
           (conflicts == ConflictPolicy.Ignore ? " ON CONFLICT DO NOTHING" : "");

    private static string Unnest(IReadOnlyList<int> columns)
        => "unnest(" + string.Join(", ", columns.Select((_, n) => "$" + (n + 1).ToString(CultureInfo.InvariantCulture) + "::text[]")) + ") AS v(" +
           string.Join(", ", columns.Select((_, n) => "c" + n.ToString(CultureInfo.InvariantCulture))) + ")";

    private static string Value(StreamTable table, IReadOnlyList<int> columns, int column)
        => $"v.c{columns.ToList().IndexOf(column).ToString(CultureInfo.InvariantCulture)}::{table.TargetTypes[column]}";

    private static string KeyMatch(StreamTable table, IReadOnlyList<int> keyColumns, IReadOnlyList<int> columns)
        => string.Join(" AND ", keyColumns.Select(k => $"t.{Sql.Ident(table.TargetColumns[k]!)} = {Value(table, columns, k)}"));

    // ------------------------------------------------------------------------------------------ TRUNCATE

    /// <summary>TRUNCATE of the target tables (ONLY: inheritance children have changes of their own).</summary>
    public static string TruncateSql(IEnumerable<QualifiedName> targets, bool restartIdentity)
        => $"TRUNCATE ONLY {string.Join(", ", targets)}{(restartIdentity ? " RESTART IDENTITY" : "")}";

    /// <summary>Empties one table where TRUNCATE cannot run (a foreign key refers to it): no foreign-key trigger fires for a replica session.</summary>
    public static string DeleteAllSql(QualifiedName target) => $"DELETE FROM ONLY {target}";
}
