using PgShift.Catalog;
using PgShift.Replication;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>A captured schema change that the stream cannot follow: the task stops before applying any of it.</summary>
public sealed class UnsupportedSchemaChangeException(string problem, string fix) : PgShiftException(problem, fix);

/// <summary>
/// Builds the target's statements for a captured schema change, under the task's selection, name mapping and excluded
/// columns: never the source's text, but the difference between the shapes before and after, written with the target's
/// names (a column added to a renamed table gets it under the table's new name; an excluded column stays out).
/// Statements are idempotent where the server allows (IF [NOT] EXISTS), so that a partition's share of its parent's
/// change, already made by the parent's statement, is not made twice.
/// </summary>
public sealed class SchemaChangeStatements(TableSelection selection, NameMapping mapping, ColumnExclusions excluded)
{
    // The source's deparse functions print a name unquoted where it may be: both spellings of a renamed schema are rewritten.
    private readonly PostDataMapper _mapper = new(mapping, mapping.Schemas.Keys.ToDictionary(k => k, DeparsedName));

    /// <summary>A name as quote_ident prints it (unquoted when it is a plain lower-case word), for matching deparsed text.</summary>
    private static string DeparsedName(string name)
        => System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z_][a-z0-9_$]*$") ? name : Sql.Ident(name);

    /// <param name="isTaskTable">Whether a source table (by name) is one the stream applies changes to.</param>
    /// <param name="applies">Whether the change applies to a task table: false when the table was copied after it committed.</param>
    public SchemaChangePlan Plan(CapturedSchemaChange change, Func<QualifiedName, bool> isTaskTable, Func<QualifiedName, bool> applies)
    {
        var plan = new SchemaChangePlan();
        foreach (var command in change.Commands)
        {
            CheckSupported(change, command);
        }
        foreach (var dropped in change.Dropped.Where(d => d.Original && d.Type == "schema" && d.Identity is { } s && selection.IncludesSchema(Unquote(s))))
        {
            plan.Statements.Add($"DROP SCHEMA IF EXISTS {Sql.Ident(mapping.MapSchema(Unquote(dropped.Identity!)))} CASCADE");
        }
        foreach (var command in change.Commands.Where(c => c.Type == "schema" && c.Tag == "CREATE SCHEMA" && c.Identity is { } s && selection.IncludesSchema(Unquote(s))))
        {
            plan.Statements.Add($"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(mapping.MapSchema(Unquote(command.Identity!)))}");
        }
        // Objects first (a new table's sequence or enum, a new column's type), then tables, parents before their partitions.
        foreach (var o in change.Objects)
        {
            PlanObject(plan, change, o.Before, o.After);
        }
        bool InTask(CapturedTable t) => t.Kind == "p"
            ? selection.IncludesTable(t.QualifiedName) || t.PartitionOf is { } p && isTaskTable(p.ToName())
            : isTaskTable(t.QualifiedName);
        foreach (var t in change.Tables.OrderBy(t => (t.After ?? t.Before)!.Kind == "p" ? 0 : 1))
        {
            var (before, after) = (t.Before, t.After);
            if (before is null)
            {
                if (after!.Persistence != "u" && selection.IncludesSchema(after.Schema))
                {
                    plan.NewTables.Add(after.Oid);
                }
                continue;
            }
            var known = InTask(before);
            if (after is null)
            {
                if (known)
                {
                    plan.Statements.Add($"DROP TABLE IF EXISTS {mapping.MapTable(before.QualifiedName)} CASCADE");
                    plan.Dropped.Add(before.QualifiedName);
                }
                continue;
            }
            if (!known)
            {
                // Attached under a task table: it joins the task, rows and all.
                if (after.PartitionOf is { } parent && isTaskTable(parent.ToName()) && after.Persistence != "u")
                {
                    plan.NewTables.Add(after.Oid);
                }
                continue;
            }
            if (!applies(before.QualifiedName))
            {
                continue;
            }
            PlanTable(plan, change, before, after);
        }
        var tags = new HashSet<string>(change.Commands.Select(c => c.Tag).Append(change.Tag), StringComparer.Ordinal);
        if (tags.Overlaps(["GRANT", "REVOKE", "ALTER DEFAULT PRIVILEGES"]))
        {
            plan.Notes.Add($"privileges are not followed during the stream (change {change.Id}: {change.StatementText}); grant them on the target as well");
        }
        return plan;
    }

    /// <summary>Kinds of objects that the stream follows; a command on any other stops the task before anything of it is applied.</summary>
    private void CheckSupported(CapturedSchemaChange change, CapturedCommand command)
    {
        if (command.Schema is { } schema && !selection.IncludesSchema(schema))
        {
            return;
        }
        if (command.Tag is "GRANT" or "REVOKE" or "ALTER DEFAULT PRIVILEGES")
        {
            // Noted, not followed (see Plan).
            return;
        }
        var supported = command.Type switch
        {
            "table" or "table column" or "index" or "table constraint" or "trigger" or "default value" => true,
            "view" or "sequence" or "function" or "procedure" => true,
            // Enums are followed; another type created or altered (composite, range, base) is not.
            "type" => !change.Objects.Any(o => o.After is { Kind: "type" }),
            "schema" => command.Tag is "CREATE SCHEMA" or "COMMENT",
            // Large objects are not decoded at all: the cutover compares every one and carries its owner, privileges and comment.
            "large object" => true,
            _ => false,
        };
        if (!supported)
        {
            throw Unsupported(change, $"{command.Tag} on {command.Type} {command.Identity}");
        }
    }

    private static UnsupportedSchemaChangeException Unsupported(CapturedSchemaChange change, string what) => new(
        $"Schema change {change.Id} on the source cannot be followed by the stream: {what} (statement: {change.StatementText}). Nothing of its transaction was applied.",
        $"Make the same change on the target by hand, under the target's names, then run 'pgshift migrate --skip-schema-change {change.Id}' to go on after it; " +
        "or, if the table it changes can be left out, start a new task without it.");

    private void PlanObject(SchemaChangePlan plan, CapturedSchemaChange change, CapturedObject? before, CapturedObject? after)
    {
        var any = (after ?? before)!;
        if (!selection.IncludesSchema(any.Schema) || before is not null && !selection.IncludesSchema(before.Schema))
        {
            return;
        }
        var keyword = any.Kind switch
        {
            "view" => "VIEW",
            "materialized view" => "MATERIALIZED VIEW",
            "sequence" => "SEQUENCE",
            "function" => "FUNCTION",
            "procedure" => "PROCEDURE",
            _ => "TYPE",
        };
        if (after is null)
        {
            plan.Statements.Add($"DROP {keyword} IF EXISTS {MapIdentity(before!)} CASCADE");
            return;
        }
        if (after.Kind is "materialized view" or "type")
        {
            throw Unsupported(change, $"{(before is null ? "CREATE" : "ALTER")} {after.Kind} {after.Identity}");
        }
        if (before is not null && before.Identity != after.Identity)
        {
            if (before.Schema != after.Schema)
            {
                plan.Statements.Add($"ALTER {keyword} {MapIdentity(before)} SET SCHEMA {Sql.Ident(mapping.MapSchema(after.Schema))}");
            }
            if (before.Name != after.Name)
            {
                var moved = before with { Schema = after.Schema, Identity = Sql.Ident(after.Schema) + before.Identity[Sql.Ident(before.Schema).Length..] };
                plan.Statements.Add($"ALTER {keyword} {MapIdentity(moved)} RENAME TO {Sql.Ident(after.Name)}");
            }
        }
        var target = MapIdentity(after);
        switch (after.Kind)
        {
            case "view" when before is null || before.Def != after.Def || !Same(before.Options, after.Options):
                var options = after.Options is { Count: > 0 } o ? $" WITH ({string.Join(", ", o)})" : "";
                plan.Statements.Add($"CREATE OR REPLACE VIEW {target}{options} AS {_mapper.MapSchemaNames(after.Def!.TrimEnd().TrimEnd(';'))}");
                break;
            case "sequence" when after.Sequence is { } s && (before is null || before.Sequence != s):
                plan.Statements.Add($"{(before is null ? "CREATE SEQUENCE IF NOT EXISTS" : "ALTER SEQUENCE")} {target} AS {s.Type} INCREMENT BY {s.Increment} MINVALUE {s.Min} MAXVALUE {s.Max} " +
                    $"START WITH {s.Start} CACHE {s.Cache} {(s.Cycle ? "" : "NO ")}CYCLE");
                break;
            case "function" or "procedure" when before is null || before.Def != after.Def:
                plan.Statements.Add(_mapper.MapSchemaNames(after.Def!));
                break;
            case "enum" when before is null:
                plan.Statements.Add($"CREATE TYPE {target} AS ENUM ({string.Join(", ", (after.Labels ?? []).Select(Sql.Literal))})");
                break;
            case "enum" when !Same(before.Labels, after.Labels):
                PlanEnumLabels(plan, change, target, before.Labels ?? [], after.Labels ?? []);
                break;
        }
        if (before?.Comment != after.Comment)
        {
            plan.Statements.Add($"COMMENT ON {keyword} {target} IS {(after.Comment is null ? "NULL" : Sql.Literal(after.Comment))}");
        }
        if (before is not null && before.Owner != after.Owner)
        {
            plan.Statements.Add(OwnerTo($"ALTER {keyword} {target}", after.Owner));
        }
    }

    /// <summary>Enum labels: added ones at their place (ADD VALUE ... BEFORE/AFTER), a renamed one (same count, one label differs) renamed.</summary>
    private static void PlanEnumLabels(SchemaChangePlan plan, CapturedSchemaChange change, string type, List<string> before, List<string> after)
    {
        if (before.Count == after.Count)
        {
            var differ = before.Zip(after).Where(p => p.First != p.Second).ToList();
            if (differ.Count == 1)
            {
                plan.Statements.Add($"ALTER TYPE {type} RENAME VALUE {Sql.Literal(differ[0].First)} TO {Sql.Literal(differ[0].Second)}");
                return;
            }
        }
        if (before.Except(after).Any())
        {
            throw Unsupported(change, $"labels of enum {type} removed or reordered");
        }
        for (var i = 0; i < after.Count; i++)
        {
            if (!before.Contains(after[i]))
            {
                var place = i + 1 < after.Count && before.Contains(after[i + 1]) ? $" BEFORE {Sql.Literal(after[i + 1])}"
                    : i > 0 ? $" AFTER {Sql.Literal(after[i - 1])}" : "";
                plan.Statements.Add($"ALTER TYPE {type} ADD VALUE IF NOT EXISTS {Sql.Literal(after[i])}{place}");
            }
        }
    }

    private void PlanTable(SchemaChangePlan plan, CapturedSchemaChange change, CapturedTable before, CapturedTable after)
    {
        var (bn, an) = (before.QualifiedName, after.QualifiedName);
        if (before.Persistence != after.Persistence)
        {
            throw Unsupported(change, $"SET {(after.Persistence == "u" ? "UNLOGGED" : "LOGGED")} on {an}");
        }
        var count = plan.Statements.Count;
        var oldTarget = mapping.MapTable(bn);
        var target = mapping.MapTable(an);
        if (oldTarget.Schema != target.Schema)
        {
            plan.Statements.Add($"ALTER TABLE IF EXISTS {oldTarget} SET SCHEMA {Sql.Ident(target.Schema)}");
        }
        if (oldTarget.Name != target.Name)
        {
            plan.Statements.Add($"ALTER TABLE IF EXISTS {new QualifiedName(target.Schema, oldTarget.Name)} RENAME TO {Sql.Ident(target.Name)}");
        }
        // Detached before its columns change; attached after.
        if (before.PartitionOf is { } oldParent && (after.PartitionOf is null || after.PartitionOf != oldParent))
        {
            plan.Statements.Add($"ALTER TABLE {mapping.MapTable(oldParent.ToName())} DETACH PARTITION {target}");
        }
        var columnsChanged = PlanColumns(plan, change, before, after, target);
        // A constraint or index that became inherited (its table attached as a partition), or its own again (detached), is the
        // same one: neither dropped nor added. Inherited ones come and go with the parent's.
        var (constraintsBefore, constraintsAfter) = OwnOrKept(before.Constraints, after.Constraints, k => k.Name, k => k.Local);
        PlanNamed(plan, constraintsBefore, constraintsAfter,
            k => $"ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {Sql.Ident(k.Name)}",
            k => ConstraintSql(after, target, k), (b, a) => b.Def == a.Def,
            k => $"COMMENT ON CONSTRAINT {Sql.Ident(k.Name)} ON {target} IS {CommentText(k.Comment)}", (b, a) => b?.Comment == a.Comment);
        var (indexesBefore, indexesAfter) = OwnOrKept(before.Indexes, after.Indexes, i => i.Name, i => !i.Inherited);
        PlanNamed(plan, indexesBefore, indexesAfter,
            i => $"DROP INDEX IF EXISTS {new QualifiedName(target.Schema, i.Name)}",
            i => IfNotExists(MapDefinition(i.Def, after)), (b, a) => b.Def == a.Def,
            i => $"COMMENT ON INDEX {new QualifiedName(target.Schema, i.Name)} IS {CommentText(i.Comment)}", (b, a) => b?.Comment == a.Comment);
        PlanNamed(plan, before.Triggers.ToDictionary(g => g.Name), after.Triggers.ToDictionary(g => g.Name),
            g => $"DROP TRIGGER IF EXISTS {Sql.Ident(g.Name)} ON {target}",
            g => MapDefinition(g.Def, after), (b, a) => b.Def == a.Def, null, null);
        if (after.PartitionOf is { } newParent && (before.PartitionOf is null || before.PartitionOf != newParent))
        {
            plan.Statements.Add($"ALTER TABLE {mapping.MapTable(newParent.ToName())} ATTACH PARTITION {target} {after.Bound}");
        }
        if (before.ReplIdent != after.ReplIdent)
        {
            plan.Statements.Add(after.ReplIdent switch
            {
                "f" => $"ALTER TABLE {target} REPLICA IDENTITY FULL",
                "n" => $"ALTER TABLE {target} REPLICA IDENTITY NOTHING",
                "d" => $"ALTER TABLE {target} REPLICA IDENTITY DEFAULT",
                _ => $"SELECT 'replica identity using an index is set at the cutover'",
            });
        }
        if (!Same(before.Options, after.Options))
        {
            var removed = (before.Options ?? []).Select(o => o.Split('=')[0]).Except((after.Options ?? []).Select(o => o.Split('=')[0])).ToList();
            if (removed.Count > 0)
            {
                plan.Statements.Add($"ALTER TABLE {target} RESET ({string.Join(", ", removed)})");
            }
            if (after.Options is { Count: > 0 } options)
            {
                plan.Statements.Add($"ALTER TABLE {target} SET ({string.Join(", ", options)})");
            }
        }
        if (before.Comment != after.Comment)
        {
            plan.Statements.Add($"COMMENT ON TABLE {target} IS {CommentText(after.Comment)}");
        }
        if (before.Owner != after.Owner)
        {
            plan.Statements.Add(OwnerTo($"ALTER TABLE {target}", after.Owner));
        }
        if (bn != an || columnsChanged)
        {
            plan.Reshaped.Add((bn, after));
        }
        if (after.Kind == "r" && RowsChangedOutsideTheStream(change, before, after))
        {
            // The statement gave the rows values that the target cannot compute alike (a default evaluated at the ALTER, a
            // USING expression), and no change in the stream carries them: the table is copied again.
            plan.Recopy.Add(after.Oid);
        }
        if (plan.Statements.Count == count && bn == an && !plan.Recopy.Contains(after.Oid))
        {
            plan.Notes.Add($"change {change.Id} ({change.StatementText}) changes nothing of {an} that the target follows (statistics, storage, clustering and the like are not followed)");
        }
    }

    private bool RowsChangedOutsideTheStream(CapturedSchemaChange change, CapturedTable before, CapturedTable after)
    {
        var old = before.Columns.Select(c => c.Num).ToHashSet();
        var added = after.Columns.Where(c => !old.Contains(c.Num) && c.Local && !excluded.Excludes(after.QualifiedName, c.Name));
        if (added.Any(c => c.Identity is "a" or "d" || c.Generated is "" or null && c.Default is { } d && !IsConstant(d)))
        {
            return true;
        }
        var retyped = after.Columns.Any(a => before.Columns.FirstOrDefault(b => b.Num == a.Num) is { } b && b.Type != a.Type);
        return retyped && System.Text.RegularExpressions.Regex.IsMatch(change.Statement, "\\bUSING\\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
    }

    /// <summary>A default that gives every row the same value wherever it is evaluated: a literal, with a cast or not.</summary>
    private static bool IsConstant(string expression) => System.Text.RegularExpressions.Regex.IsMatch(expression.Trim(),
        "^\\(*(?:'(?:[^']|'')*'|-?[0-9.]+(?:e[+-]?[0-9]+)?|true|false|NULL)\\)*(?:::[\\w .\"\\[\\](),]+)?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    /// <summary>Columns by attnum: dropped, renamed, retyped, their defaults, NOT NULL, identity and comments; then added. True when the streamed columns changed.</summary>
    private bool PlanColumns(SchemaChangePlan plan, CapturedSchemaChange change, CapturedTable before, CapturedTable after, QualifiedName target)
    {
        var (bn, an) = (before.QualifiedName, after.QualifiedName);
        var old = before.Columns.ToDictionary(c => c.Num);
        var now = after.Columns.ToDictionary(c => c.Num);
        string Target(QualifiedName t, CapturedColumn c) => Sql.Ident(mapping.MapColumn(t, c.Name));
        foreach (var b in before.Columns.Where(c => !now.ContainsKey(c.Num) && c.Local && !excluded.Excludes(bn, c.Name)))
        {
            plan.Statements.Add($"ALTER TABLE {target} DROP COLUMN IF EXISTS {Target(bn, b)}");
        }
        foreach (var a in after.Columns)
        {
            if (!old.TryGetValue(a.Num, out var b))
            {
                continue;
            }
            if (excluded.Excludes(bn, b.Name) != excluded.Excludes(an, a.Name))
            {
                throw Unsupported(change, $"column {b.Name} of {bn}, left out of the task, renamed to {a.Name} (with its table {an})");
            }
            if (excluded.Excludes(an, a.Name) || !a.Local || !b.Local)
            {
                continue;
            }
            var (tb, ta) = (Target(bn, b), Target(an, a));
            if (tb != ta)
            {
                plan.Statements.Add($"""
                    DO $pgshift$ BEGIN
                      IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {Sql.Literal(target.ToString())}::regclass AND attname = {Sql.Literal(mapping.MapColumn(an, a.Name))} AND NOT attisdropped) THEN
                        ALTER TABLE {target} RENAME COLUMN {tb} TO {ta};
                      END IF;
                    END $pgshift$
                    """);
            }
            var column = $"ALTER TABLE {target} ALTER COLUMN {ta}";
            if (b.Type != a.Type || b.Collation != a.Collation)
            {
                var type = _mapper.MapSchemaNames(a.Type);
                plan.Statements.Add($"{column} TYPE {type}{(a.Collation is { } c ? " COLLATE " + _mapper.MapSchemaNames(c) : "")} USING {ta}::{type}");
            }
            if (b.Generated != a.Generated)
            {
                if (a.Generated is "" or null)
                {
                    plan.Statements.Add($"{column} DROP EXPRESSION IF EXISTS");
                }
                else
                {
                    throw Unsupported(change, $"generated column {a.Name} of {an} changed");
                }
            }
            if (b.Identity != a.Identity)
            {
                plan.Statements.Add(a.Identity switch
                {
                    "a" or "d" when b.Identity is "" or null => $"{column} ADD GENERATED {(a.Identity == "a" ? "ALWAYS" : "BY DEFAULT")} AS IDENTITY",
                    "a" => $"{column} SET GENERATED ALWAYS",
                    "d" => $"{column} SET GENERATED BY DEFAULT",
                    _ => $"{column} DROP IDENTITY IF EXISTS",
                });
            }
            if (b.Default != a.Default && a.Identity is "" or null && a.Generated is "" or null)
            {
                plan.Statements.Add(a.Default is null ? $"{column} DROP DEFAULT" : $"{column} SET DEFAULT {_mapper.MapSchemaNames(a.Default)}");
            }
            if (b.NotNull != a.NotNull)
            {
                plan.Statements.Add($"{column} {(a.NotNull ? "SET" : "DROP")} NOT NULL");
            }
            if (b.Comment != a.Comment)
            {
                plan.Statements.Add($"COMMENT ON COLUMN {target}.{ta} IS {CommentText(a.Comment)}");
            }
        }
        foreach (var a in after.Columns.Where(c => !old.ContainsKey(c.Num) && c.Local && !excluded.Excludes(an, c.Name)))
        {
            plan.Statements.Add($"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {ColumnDefinition(a, an)}");
            if (a.Comment is not null)
            {
                plan.Statements.Add($"COMMENT ON COLUMN {target}.{Target(an, a)} IS {CommentText(a.Comment)}");
            }
        }
        static IEnumerable<(string, uint)> Streamed(CapturedTable t) => t.StreamedColumns.Select(c => (c.Name, c.TypeOid));
        return !Streamed(before).SequenceEqual(Streamed(after));
    }

    /// <summary>A column as CREATE TABLE and ADD COLUMN write it, under its target name.</summary>
    public string ColumnDefinition(CapturedColumn c, QualifiedName table)
    {
        var sql = $"{Sql.Ident(mapping.MapColumn(table, c.Name))} {_mapper.MapSchemaNames(c.Type)}";
        if (c.Collation is { } collation)
        {
            sql += " COLLATE " + _mapper.MapSchemaNames(collation);
        }
        if (c.Generated == "s")
        {
            sql += $" GENERATED ALWAYS AS ({_mapper.MapSchemaNames(c.Default!)}) STORED";
        }
        else if (c.Identity is "a" or "d")
        {
            sql += $" GENERATED {(c.Identity == "a" ? "ALWAYS" : "BY DEFAULT")} AS IDENTITY";
        }
        else if (c.Default is { } d)
        {
            sql += " DEFAULT " + _mapper.MapSchemaNames(d);
        }
        return c.NotNull && c.Identity is "" or null ? sql + " NOT NULL" : sql;
    }

    /// <summary>
    /// A table that joins the task, created on the target from its shape at its copy's snapshot: columns, partition
    /// key or bound; its keys, indexes, constraints and triggers come after its rows (<see cref="PostData"/>).
    /// </summary>
    public List<string> CreateTable(CapturedTable t)
    {
        var name = t.QualifiedName;
        var target = mapping.MapTable(name);
        var sql = new List<string> { $"CREATE SCHEMA IF NOT EXISTS {Sql.Ident(target.Schema)}" };
        var columns = t.Columns.Where(c => !excluded.Excludes(name, c.Name) && (t.PartitionOf is null || c.Local)).Select(c => ColumnDefinition(c, name)).ToList();
        var partitionKey = t.PartKey is { } key ? $" PARTITION BY {_mapper.MapSchemaNames(MapColumnNames(key, name))}" : "";
        if (t.PartitionOf is { } parent)
        {
            // Columns of its own only: the parent gives the others.
            var own = columns.Count > 0 ? $" ({string.Join(", ", t.Columns.Where(c => c.Local && !excluded.Excludes(name, c.Name)).Select(c => $"{Sql.Ident(mapping.MapColumn(name, c.Name))} WITH OPTIONS"))})" : "";
            sql.Add($"CREATE TABLE IF NOT EXISTS {target} PARTITION OF {mapping.MapTable(parent.ToName())}{own} {t.Bound}{partitionKey}");
        }
        else
        {
            sql.Add($"CREATE TABLE IF NOT EXISTS {target} ({string.Join(", ", columns)}){partitionKey}");
        }
        if (t.Options is { Count: > 0 } options)
        {
            sql.Add($"ALTER TABLE {target} SET ({string.Join(", ", options)})");
        }
        if (t.Comment is not null)
        {
            sql.Add($"COMMENT ON TABLE {target} IS {CommentText(t.Comment)}");
        }
        foreach (var c in t.Columns.Where(c => c.Comment is not null && !excluded.Excludes(name, c.Name)))
        {
            sql.Add($"COMMENT ON COLUMN {target}.{Sql.Ident(mapping.MapColumn(name, c.Name))} IS {CommentText(c.Comment)}");
        }
        return sql;
    }

    /// <summary>The statements that take a task table from one shape to another (a table copied again at a later snapshot).</summary>
    public List<string> Alter(CapturedTable from, CapturedTable to)
    {
        var plan = new SchemaChangePlan();
        PlanTable(plan, new CapturedSchemaChange(0, "ALTER TABLE", $"(the copy of {to.QualifiedName} at a later snapshot)", [], [], [], []), from, to);
        return plan.Statements;
    }

    /// <summary>A table's keys, constraints, indexes, triggers, replica identity and sequences' ownership, once its rows are in.</summary>
    public List<string> PostData(CapturedTable t)
    {
        var name = t.QualifiedName;
        var target = mapping.MapTable(name);
        var sql = new List<string>();
        foreach (var k in t.Constraints.Where(k => k.Local).OrderBy(k => k.Type == "f" ? 1 : 0))
        {
            sql.Add($"""
                DO $pgshift$ BEGIN
                  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {Sql.Literal(target.ToString())}::regclass AND conname = {Sql.Literal(k.Name)}) THEN
                    {ConstraintSql(t, target, k).Replace("$pgshift$", "", StringComparison.Ordinal)};
                  END IF;
                END $pgshift$
                """);
        }
        sql.AddRange(t.Indexes.Where(i => !i.Inherited).Select(i => IfNotExists(MapDefinition(i.Def, t))));
        sql.AddRange(t.Triggers.Select(g => $"DROP TRIGGER IF EXISTS {Sql.Ident(g.Name)} ON {target}; {MapDefinition(g.Def, t)}"));
        if (t.ReplIdent is "f" or "n")
        {
            sql.Add($"ALTER TABLE {target} REPLICA IDENTITY {(t.ReplIdent == "f" ? "FULL" : "NOTHING")}");
        }
        foreach (var s in t.OwnedSequences ?? [])
        {
            if (!excluded.Excludes(name, s.Column) && QualifiedNameParser.Split(s.Sequence) is [var schema, var seq])
            {
                sql.Add($"ALTER SEQUENCE IF EXISTS {Sql.Ident(mapping.MapSchema(schema))}.{Sql.Ident(seq)} OWNED BY {target}.{Sql.Ident(mapping.MapColumn(name, s.Column))}");
            }
        }
        return sql;
    }

    private string ConstraintSql(CapturedTable table, QualifiedName target, CapturedConstraint k)
    {
        QualifiedName? referenced = null;
        if (k.Type == "f" && System.Text.RegularExpressions.Regex.Match(k.Def, "REFERENCES ((?:\"(?:[^\"]|\"\")*\"|[^\"(. ]+)(?:\\.(?:\"(?:[^\"]|\"\")*\"|[^\"(. ]+))?)\\(") is { Success: true } m
            && QualifiedNameParser.Split(m.Groups[1].Value) is [var schema, var name])
        {
            referenced = new QualifiedName(schema, name);
            k = k with { Def = k.Def.Replace($"REFERENCES {m.Groups[1].Value}(", $"REFERENCES {referenced}(", StringComparison.Ordinal) };
        }
        var statement = new PostDataStatement(k.Type == "f" ? PostDataKind.ForeignKey : PostDataKind.Constraint, table.QualifiedName, k.Name,
            $"ALTER TABLE {table.QualifiedName} ADD CONSTRAINT {Sql.Ident(k.Name)} {k.Def}", 0, referenced);
        return _mapper.Map(statement);
    }

    /// <summary>A definition deparsed on the source (CREATE INDEX, CREATE TRIGGER) under the target's names.</summary>
    private string MapDefinition(string def, CapturedTable table)
    {
        var deparsed = table.Deparsed ?? table.QualifiedName.Quoted;
        def = def.Replace($" ON ONLY {deparsed} ", $" ON ONLY {table.QualifiedName} ", StringComparison.Ordinal)
                 .Replace($" ON {deparsed} ", $" ON {table.QualifiedName} ", StringComparison.Ordinal);
        return _mapper.Map(new PostDataStatement(PostDataKind.Index, table.QualifiedName, "", def, 0));
    }

    private string MapColumnNames(string expression, QualifiedName table)
    {
        foreach (var (from, to) in mapping.Columns.GetValueOrDefault(table) ?? [])
        {
            expression = System.Text.RegularExpressions.Regex.Replace(expression, $"(?<![\\w\"]){System.Text.RegularExpressions.Regex.Escape(Sql.Ident(from))}(?![\\w\"])", Sql.Ident(to));
        }
        return expression;
    }

    private static string IfNotExists(string createIndex) => System.Text.RegularExpressions.Regex.Replace(createIndex,
        "^(CREATE (?:UNIQUE )?INDEX )(?!IF NOT EXISTS)", "$1IF NOT EXISTS ", System.Text.RegularExpressions.RegexOptions.Multiline);

    /// <summary>Of two lists by name, those of the table's own, and those present on both sides.</summary>
    private static (Dictionary<string, T> Before, Dictionary<string, T> After) OwnOrKept<T>(List<T> before, List<T> after, Func<T, string> name, Func<T, bool> own)
    {
        var b = before.Select(name).ToHashSet(StringComparer.Ordinal);
        var a = after.Select(name).ToHashSet(StringComparer.Ordinal);
        return (before.Where(x => own(x) || a.Contains(name(x))).ToDictionary(name), after.Where(x => own(x) || b.Contains(name(x))).ToDictionary(name));
    }

    private static void PlanNamed<T>(SchemaChangePlan plan, Dictionary<string, T> before, Dictionary<string, T> after, Func<T, string> drop,
        Func<T, string> create, Func<T, T, bool> same, Func<T, string>? comment, Func<T?, T, bool>? sameComment) where T : class
    {
        foreach (var (name, b) in before.Where(kv => !after.TryGetValue(kv.Key, out var a) || !same(kv.Value, a)))
        {
            plan.Statements.Add(drop(b));
        }
        foreach (var (name, a) in after)
        {
            var b = before.GetValueOrDefault(name);
            if (b is null || !same(b, a))
            {
                plan.Statements.Add(create(a));
                b = null;
            }
            // A new one's comment is set when it has one; a kept one's when it changed (to NULL too).
            if (comment is not null && !sameComment!(b, a))
            {
                plan.Statements.Add(comment(a));
            }
        }
    }

    private string MapIdentity(CapturedObject o)
    {
        var prefix = Sql.Ident(o.Schema);
        return o.Identity.StartsWith(prefix + ".", StringComparison.Ordinal)
            ? Sql.Ident(mapping.MapSchema(o.Schema)) + _mapper.MapSchemaNames(o.Identity[prefix.Length..])
            : _mapper.MapSchemaNames(o.Identity);
    }

    private static string OwnerTo(string alter, string owner) => $"""
        DO $pgshift$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {Sql.Literal(owner)}) THEN
            {alter} OWNER TO {Sql.Ident(owner)};
          END IF;
        END $pgshift$
        """;

    private static string CommentText(string? comment) => comment is null ? "NULL" : Sql.Literal(comment);

    private static bool Same(List<string>? a, List<string>? b) => (a ?? []).SequenceEqual(b ?? []);

    private static string Unquote(string identifier) => QualifiedNameParser.Split(identifier)[0];
}
