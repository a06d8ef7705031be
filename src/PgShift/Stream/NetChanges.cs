using System.Text;
using Npgsql;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Stream;

/// <summary>
/// The net effect of a run of changes on one table with a key, row by row: an insert then updates of the same
/// row become one insert, updates of one row become one update, a delete after an insert leaves nothing. Applied
/// as a few set statements (<c>unnest</c> of text arrays) instead of one statement per change, which is where
/// the target's time goes (the SQL is <see cref="ChangeStatements"/>'s). A table without a key has only its runs of inserts folded. Order across rows does not matter once each row's changes are folded: the apply
/// session runs as a replica (no triggers, no foreign-key checks), tables with triggers or rules that fire for
/// a replica are never folded, and a statement whose row count or unique check disagrees makes the applier
/// replay the same transactions change by change, in order.
/// </summary>
internal sealed class NetChanges(StreamTable table, IReadOnlyList<int> keyColumns)
{
    private enum Net
    {
        Insert,
        Update,
        Delete,
        /// <summary>Deleted, then inserted again: the old row goes, the new one comes.</summary>
        Replace,
    }

    /// <param name="row">The row to write; for a delete, a row or key holding at least the key's values.</param>
    private sealed class Entry(Net kind, ColumnValue[] row)
    {
        public Net Kind = kind;
        public ColumnValue[] Row = row;
    }

    private readonly Dictionary<string, Entry> _rows = new(StringComparer.Ordinal);
    /// <summary>Inserts into a table without a key (REPLICA IDENTITY FULL): only runs of inserts are folded there.</summary>
    private readonly List<Entry> _keylessInserts = [];

    public StreamTable Table => table;

    /// <summary>Rows whose net change is held.</summary>
    public int Count => _rows.Count + _keylessInserts.Count;

    /// <summary>
    /// Folds a change in; false when it cannot be folded (the caller applies what is held first, then the change
    /// by itself): a key change, or a change that contradicts the held one (that row would be a conflict).
    /// </summary>
    public bool TryAdd(RowChangeKind kind, ColumnValue[]? oldKey, ColumnValue[]? newRow)
    {
        if (keyColumns.Count == 0)
        {
            if (kind != RowChangeKind.Insert)
            {
                return false;
            }
            _keylessInserts.Add(new Entry(Net.Insert, newRow!));
            return true;
        }
        if (kind == RowChangeKind.Update && oldKey is not null && !SameKey(oldKey, newRow!))
        {
            return false;
        }
        var key = KeyOf(kind == RowChangeKind.Delete ? oldKey! : newRow!);
        if (key is null)
        {
            return false;
        }
        if (!_rows.TryGetValue(key, out var held))
        {
            _rows[key] = kind switch
            {
                RowChangeKind.Insert => new Entry(Net.Insert, newRow!),
                RowChangeKind.Update => new Entry(Net.Update, newRow!),
                _ => new Entry(Net.Delete, oldKey!),
            };
            return true;
        }
        switch (held.Kind, kind)
        {
            case (Net.Insert or Net.Update or Net.Replace, RowChangeKind.Update):
                held.Row = Merge(held.Row, newRow!);
                return true;
            case (Net.Insert, RowChangeKind.Delete):
                _rows.Remove(key);
                return true;
            case (Net.Update or Net.Replace, RowChangeKind.Delete):
                // The row keeps its key values, which is all a delete needs.
                held.Kind = Net.Delete;
                return true;
            case (Net.Delete, RowChangeKind.Insert):
                held.Kind = Net.Replace;
                held.Row = newRow!;
                return true;
            default:
                return false;
        }
    }

    /// <summary>The held changes as statements (deletes, then updates by the columns they set, then inserts); empties the set.</summary>
    public IEnumerable<(NpgsqlBatchCommand Command, int Rows, RowChangeKind Kind)> Drain(ConflictPolicy conflicts, StatementCache sql)
    {
        var deletes = _rows.Values.Where(e => e.Kind is Net.Delete or Net.Replace).ToList();
        var inserts = _rows.Values.Where(e => e.Kind is Net.Insert or Net.Replace).Concat(_keylessInserts).ToList();
        var updates = _rows.Values.Where(e => e.Kind == Net.Update).GroupBy(e => SetMask(e.Row)).ToList();
        _rows.Clear();
        _keylessInserts.Clear();
        var result = new List<(NpgsqlBatchCommand, int, RowChangeKind)>();
        if (deletes.Count > 0)
        {
            var columns = keyColumns.ToList();
            var cmd = ChangeStatements.SetCommand(sql.Get((table.Target, RowChangeKind.Delete, 0UL), () => ChangeStatements.SetDeleteSql(table, columns)), Columns(deletes, columns));
            result.Add((cmd, deletes.Count, RowChangeKind.Delete));
        }
        foreach (var group in updates)
        {
            var rows = group.ToList();
            var setColumns = Enumerable.Range(0, table.Columns.Count)
                .Where(i => (group.Key & (1UL << i)) != 0 && !keyColumns.Contains(i)).ToList();
            if (setColumns.Count == 0)
            {
                continue;
            }
            var columns = keyColumns.Concat(setColumns).ToList();
            var cmd = ChangeStatements.SetCommand(sql.Get((table.Target, RowChangeKind.Update, group.Key), () => ChangeStatements.SetUpdateSql(table, keyColumns, setColumns)), Columns(rows, columns));
            result.Add((cmd, rows.Count, RowChangeKind.Update));
        }
        if (inserts.Count > 0)
        {
            var columns = Enumerable.Range(0, table.Columns.Count).Where(i => table.TargetColumns[i] is not null).ToList();
            var cmd = ChangeStatements.SetCommand(sql.Get((table.Target, RowChangeKind.Insert, 0UL), () => ChangeStatements.SetInsertSql(table, columns, conflicts)), Columns(inserts, columns));
            result.Add((cmd, inserts.Count, RowChangeKind.Insert));
        }
        return result;
    }

    private static string?[][] Columns(List<Entry> rows, List<int> columns)
    {
        var values = columns.Select(_ => new string?[rows.Count]).ToArray();
        for (var r = 0; r < rows.Count; r++)
        {
            for (var c = 0; c < columns.Count; c++)
            {
                values[c][r] = rows[r].Row[columns[c]].Text;
            }
        }
        return values;
    }

    private string? KeyOf(ColumnValue[] row)
    {
        if (keyColumns.Count == 1)
        {
            return row[keyColumns[0]] is { Unchanged: false, Text: { } only } ? only : null;
        }
        var sb = new StringBuilder();
        foreach (var k in keyColumns)
        {
            if (row[k] is not { Unchanged: false, Text: { } text })
            {
                return null;
            }
            if (sb.Length > 0)
            {
                // Text values never hold a NUL: it separates the parts unambiguously.
                sb.Append('\0');
            }
            sb.Append(text);
        }
        return sb.ToString();
    }

    private bool SameKey(ColumnValue[] oldKey, ColumnValue[] newRow)
        => keyColumns.All(k => !newRow[k].Unchanged && string.Equals(oldKey[k].Text, newRow[k].Text, StringComparison.Ordinal));

    /// <summary>A later update over an earlier change: its values win; a TOASTed value it left unchanged keeps the earlier one.</summary>
    private static ColumnValue[] Merge(ColumnValue[] earlier, ColumnValue[] later)
    {
        var merged = new ColumnValue[later.Length];
        for (var i = 0; i < later.Length; i++)
        {
            merged[i] = later[i].Unchanged ? earlier[i] : later[i];
        }
        return merged;
    }

    private ulong SetMask(ColumnValue[] row)
    {
        ulong mask = 0;
        for (var i = 0; i < row.Length; i++)
        {
            if (!row[i].Unchanged && table.TargetColumns[i] is not null)
            {
                mask |= 1UL << i;
            }
        }
        return mask;
    }
}

/// <summary>SQL texts of set statements by table, kind and columns: the same text each time, so Npgsql prepares it once.</summary>
internal sealed class StatementCache
{
    private readonly Dictionary<(QualifiedName, RowChangeKind, ulong), string> _sql = new();

    public string Get((QualifiedName, RowChangeKind, ulong) shape, Func<string> build)
    {
        if (!_sql.TryGetValue(shape, out var text))
        {
            _sql[shape] = text = build();
        }
        return text;
    }
}
