using System.Globalization;
using System.Text;
using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>Sequences and tables: columns, defaults, identity, CHECK constraints, inheritance and partitioning.</summary>
internal sealed class TableReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : ObjectFamilyReader(conn, options, read)
{
    public async Task ReadSequencesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
                   EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i'),
                   (SELECT quote_ident(tn.nspname) || '.' || quote_ident(t.relname) || '.' || quote_ident(a.attname)
                      FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' AND d.refclassid = 'pg_class'::regclass),
                   (SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass),
                   c.relpersistence::text,
                   (SELECT t.relpersistence::text FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i' AND d.refclassid = 'pg_class'::regclass)
            FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            var type = $"AS {r.GetString(3)} ";
            var settings = $"INCREMENT BY {r.GetInt64(5)} MINVALUE {r.GetInt64(7)} MAXVALUE {r.GetInt64(6)} START WITH {r.GetInt64(4)} CACHE {r.GetInt64(8)} {(r.GetBoolean(9) ? "CYCLE" : "NO CYCLE")}";
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            // Unlogged sequences exist from PostgreSQL 15; an identity sequence is created as its table is, unless it differs.
            var unlogged = r.GetString(13) == "u";
            var persistenceKnown = TargetMajor >= 15;
            if (r.GetBoolean(10))
            {
                // An identity sequence takes the column's type.
                var differs = persistenceKnown && !r.IsDBNull(14) && (r.GetString(14) == "u") != unlogged;
                Read.IdentitySequenceOptions[oid] = $"SEQUENCE NAME {name}{(differs ? unlogged ? " UNLOGGED" : " LOGGED" : "")} {settings}";
                return;
            }
            if (FromExtension(oid) || !Selected.Contains(oid))
            {
                return;
            }
            // A sequence owned by a table that is not selected is left out with it.
            if (!r.IsDBNull(12) && !Selected.Contains(r.GetFieldValue<uint>(12)))
            {
                return;
            }
            var o = Add($"rel:{oid}", ObjectKind.Sequence, r.GetString(1), r.GetString(2), $"sequence {name}");
            o.Statements.Add($"CREATE {(unlogged && persistenceKnown ? "UNLOGGED " : "")}SEQUENCE {name} {type}{settings}");
            o.AlterTarget = r.IsDBNull(11) ? $"SEQUENCE {name}" : null;
            o.OwnerKey = r.IsDBNull(12) ? null : $"rel:{r.GetFieldValue<uint>(12)}";
            if (!r.IsDBNull(11))
            {
                o.Finishing.Add($"ALTER SEQUENCE {name} OWNED BY {r.GetString(11)}");
            }
        }, ct);
    }

    /// <summary>A table's row of pg_class, as its CREATE TABLE needs it.</summary>
    /// <param name="OfType">For a typed table (CREATE TABLE ... OF type), the composite type, qualified.</param>
    private sealed record TableRow(uint Oid, QualifiedName Name, char Kind, bool Unlogged, string[]? Options, bool IsPartition,
        string? PartitionBound, string? PartitionKey, char ReplicaIdentity, string? OfType, string? AccessMethod);

    private Dictionary<uint, List<TableColumn>> _columns = new();
    private readonly Dictionary<uint, List<string>> _inheritedChecks = new();

    public async Task ReadTablesAsync(CancellationToken ct)
    {
        var columns = await TableColumn.LoadAsync(Connection, ct);
        _columns = columns;
        var checks = new Dictionary<uint, List<string>>();
        await QueryAsync("""
            SELECT conrelid, conname, pg_get_constraintdef(oid), conislocal FROM pg_constraint
            WHERE contype = 'c' AND conrelid <> 0 AND convalidated ORDER BY conrelid, conname
            """, r => Append(r.GetBoolean(3) ? checks : _inheritedChecks, r.GetFieldValue<uint>(0), $"CONSTRAINT {Sql.Ident(r.GetString(1))} {r.GetString(2)}"), ct);
        var parents = new Dictionary<uint, List<uint>>();
        await QueryAsync("SELECT inhrelid, inhparent FROM pg_inherits ORDER BY inhrelid, inhseqno",
            r => Append(parents, r.GetFieldValue<uint>(0), r.GetFieldValue<uint>(1)), ct);

        var partKey = "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END";
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.reloptions, c.relispartition,
                   pg_get_expr(c.relpartbound, c.oid), {partKey}, c.relreplident::text,
                   CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END,
                   (SELECT array_agg('toast.' || o) FROM pg_class t, unnest(t.reloptions) o WHERE t.oid = c.reltoastrelid),
                   (SELECT a.amname FROM pg_am a WHERE a.oid = c.relam)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f') AND {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Selected.Contains(oid) || FromExtension(oid))
            {
                return;
            }
            // The TOAST table's options go with the table's, as toast.name.
            string[] options = [.. r.IsDBNull(5) ? [] : r.GetFieldValue<string[]>(5), .. r.IsDBNull(11) ? [] : r.GetFieldValue<string[]>(11)];
            var row = new TableRow(oid, new QualifiedName(r.GetString(1), r.GetString(2)), r.GetString(3)[0], r.GetString(4) == "u",
                options.Length == 0 ? null : options, r.GetBoolean(6), r.IsDBNull(7) ? null : r.GetString(7),
                r.IsDBNull(8) ? null : r.GetString(8), r.GetString(9)[0], r.IsDBNull(10) ? null : r.GetString(10),
                r.IsDBNull(12) ? null : r.GetString(12));
            AddTable(row, columns.GetValueOrDefault(oid) ?? [], checks.GetValueOrDefault(oid) ?? [], parents.GetValueOrDefault(oid) ?? []);
        }, ct);
    }

    private void AddTable(TableRow t, List<TableColumn> columns, List<string> checks, List<uint> parentOids)
    {
        var table = t.Name;
        var foreign = t.Kind == 'f' ? Read.ForeignTables.GetValueOrDefault(t.Oid) : null;
        var o = Add($"rel:{t.Oid}", ObjectKind.Table, table.Schema, table.Name, $"{(t.Kind == 'f' ? "foreign table" : "table")} {table}");
        o.AlterTarget = $"TABLE {table}";
        if (t.Kind == 'f' && foreign is null)
        {
            o.SkipReason = "its foreign server is not migrated";
            Read.Skipped.Add(o);
            return;
        }
        var cols = columns.Where(c => !Options.ExcludedColumns.Excludes(table, c.Name)).ToList();
        if (GenerationRefusedByTarget(cols) is { } refused)
        {
            o.SkipReason = refused;
            Read.Skipped.Add(o);
            return;
        }
        var sb = new StringBuilder(foreign is null ? "CREATE " : "CREATE FOREIGN ");
        if (t.Unlogged)
        {
            sb.Append("UNLOGGED ");
        }
        sb.Append(CultureInfo.InvariantCulture, $"TABLE {table}");
        var after = new List<string>();
        var typed = t.OfType is not null && cols.Count == columns.Count && !t.IsPartition && parentOids.Count == 0;
        var ownOrder = !typed && cols.Count == columns.Count && HasOwnColumnOrder(t, columns, parentOids);
        var defs = typed ? TypedColumnOptions(table, cols, after)
            : ownOrder ? ColumnDefinitions(table, cols.Select(c => c with { IsLocal = true, DropsInheritedDefault = false }).ToList(), false, after)
            : ColumnDefinitions(table, cols, t.IsPartition, after);
        defs.AddRange(checks);
        after.AddRange(cols.Where(c => foreign?.ColumnOptions.ContainsKey(c.Name) == true)
            .Select(c => $"ALTER FOREIGN TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)}{foreign!.ColumnOptions[c.Name]}"));
        if (ownOrder)
        {
            // Created apart, then attached: its columns keep their own order (a partition or child made before its
            // parent, or whose parent changed since). The parent's checks must be there already to attach.
            defs.AddRange(_inheritedChecks.GetValueOrDefault(t.Oid) ?? []);
            sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
            if (!t.IsPartition)
            {
                Read.Warnings.Add($"{o.Display} keeps its own column order: created apart, then made a child of its parent by INHERIT, its inherited "
                    + "columns are its own too (a DROP COLUMN on the parent leaves them in it), which no DDL can undo.");
            }
            after.InsertRange(0, t.IsPartition
                ? [$"ALTER TABLE {Selected.AllRelations[parentOids[0]].Name} ATTACH PARTITION {table} {t.PartitionBound}"]
                : parentOids.Select(p => $"ALTER TABLE {table} INHERIT {Selected.AllRelations[p].Name}"));
        }
        else if (typed)
        {
            // A typed table takes its columns from the type; only what each adds (NOT NULL, a default) is said.
            sb.Append(CultureInfo.InvariantCulture, $" OF {t.OfType}");
            if (defs.Count > 0) sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
        }
        else if (t.IsPartition)
        {
            sb.Append(CultureInfo.InvariantCulture, $" PARTITION OF {Selected.AllRelations[parentOids[0]].Name}");
            if (defs.Count > 0) sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
            sb.Append(' ').Append(t.PartitionBound);
        }
        else
        {
            sb.Append(" (").Append(string.Join(", ", defs)).Append(')');
            if (parentOids.Count > 0)
            {
                sb.Append(" INHERITS (").Append(string.Join(", ", parentOids.Select(p => Selected.AllRelations[p].Name))).Append(')');
            }
        }
        if (t.PartitionKey is not null) sb.Append(" PARTITION BY ").Append(t.PartitionKey);
        if (AccessMethodClause(t) is { } usingAm) sb.Append(usingAm);
        if (t.Options is not null) sb.Append(" WITH (").Append(string.Join(", ", t.Options)).Append(')');
        if (foreign is not null) sb.Append(foreign.Server);
        o.Statements.Add(sb.ToString());
        o.Statements.AddRange(after);
        // A foreign table's replica identity is NOTHING, and cannot be set.
        switch (foreign is null ? t.ReplicaIdentity : 'd')
        {
            case 'f': o.Statements.Add($"ALTER TABLE ONLY {table} REPLICA IDENTITY FULL"); break;
            case 'n': o.Statements.Add($"ALTER TABLE ONLY {table} REPLICA IDENTITY NOTHING"); break;
        }
        foreach (var p in parentOids)
        {
            o.DependsOn.Add($"rel:{p}");
        }
    }

    /// <summary>
    /// USING the table's access method when it is not heap (the default): PostgreSQL 12 and later; a partitioned table
    /// has one from PostgreSQL 17 (its partitions' default), which earlier targets cannot say.
    /// </summary>
    private string? AccessMethodClause(TableRow t)
    {
        var target = TargetMajor;
        return t.AccessMethod is { } am && am != "heap" && target >= 12 && (t.Kind == 'r' || t.Kind == 'p' && target >= 17)
            ? $" USING {Sql.Ident(am)}" : null;
    }

    /// <summary>
    /// Whether a partition's or inheritance child's columns are in another order than PARTITION OF or INHERITS would
    /// give them (the parent's columns first, in the parent's order); identity and inherited generated columns keep
    /// the usual form.
    /// </summary>
    private bool HasOwnColumnOrder(TableRow t, List<TableColumn> columns, List<uint> parentOids)
    {
        if (parentOids.Count == 0 || columns.Any(c => c.Identity != '\0' || c.ParentGeneration is not null))
        {
            return false;
        }
        var inherited = parentOids.SelectMany(p => _columns.GetValueOrDefault(p) ?? []).Select(c => c.Name).Distinct().ToList();
        var expected = t.IsPartition ? inherited : inherited.Concat(columns.Select(c => c.Name).Where(n => !inherited.Contains(n))).ToList();
        return !columns.Select(c => c.Name).SequenceEqual(expected);
    }

    /// <summary>Why the target's version cannot create an inheritance child's generated column as the source has it; null when it can.</summary>
    private string? GenerationRefusedByTarget(List<TableColumn> cols)
    {
        var target = TargetMajor;
        if (target >= 16 && cols.FirstOrDefault(c => c.ParentGeneration == "plain") is { } plain)
        {
            return $"its column {Sql.Ident(plain.Name)} is generated while its parent's is not, which PostgreSQL 16 and later refuse (the target runs {target})";
        }
        if (target < 16 && cols.FirstOrDefault(c => c.ParentGeneration == "other") is { } other)
        {
            return $"its column {Sql.Ident(other.Name)} is generated with another expression than its parent's, which PostgreSQL before 16 refuses (the target runs {target})";
        }
        return null;
    }

    /// <summary>The column definitions of CREATE TABLE; what a partition or child sets on an inherited column goes to <paramref name="after"/>.</summary>
    private List<string> ColumnDefinitions(QualifiedName table, List<TableColumn> cols, bool isPartition, List<string> after)
    {
        var defs = new List<string>();
        foreach (var c in cols)
        {
            if (isPartition || !c.IsLocal)
            {
                // Inherited columns come from the parent; only what differs is set afterwards.
                if (c.Default is not null && c.Generated == '\0' && c.Identity == '\0')
                {
                    after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET DEFAULT {c.Default}");
                }
                else if (c.DropsInheritedDefault)
                {
                    after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} DROP DEFAULT");
                }
                if (c.NotNull && c.Identity == '\0')
                {
                    after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET NOT NULL");
                }
                AddColumnOptions(table, c, after);
                continue;
            }
            var d = new StringBuilder($"{Sql.Ident(c.Name)} {c.Type}");
            if (c.Collation is not null) d.Append(CultureInfo.InvariantCulture, $" COLLATE {c.Collation}");
            if (c.Generated == 's')
            {
                // A child that declares a column it inherits with the parent's generation expression takes it from the
                // parent: before PostgreSQL 16, saying it again is an error.
                if (c.ParentGeneration != "same") d.Append(CultureInfo.InvariantCulture, $" GENERATED ALWAYS AS ({c.Default}) STORED");
            }
            else if (c.Default is not null && c.Identity == '\0') d.Append(CultureInfo.InvariantCulture, $" DEFAULT {c.Default}");
            if (c.Identity is 'a' or 'd')
            {
                // The change stream writes the source's values into the column: ALWAYS would refuse them (even in
                // an UPDATE that leaves the value as it is), so the column is BY DEFAULT until the cutover sets it ALWAYS.
                d.Append(c.Identity == 'a' && !Options.StreamFollows ? " GENERATED ALWAYS AS IDENTITY" : " GENERATED BY DEFAULT AS IDENTITY");
                if (Read.IdentitySequenceOptions.TryGetValue(c.IdentitySequence, out var seqOptions))
                {
                    d.Append(CultureInfo.InvariantCulture, $" ({seqOptions})");
                }
            }
            if (c.NotNull) d.Append(" NOT NULL");
            defs.Add(d.ToString());
            AddColumnOptions(table, c, after);
        }
        return defs;
    }

    /// <summary>A typed table's column options (WITH OPTIONS NOT NULL, DEFAULT); storage and the like go to <paramref name="after"/>.</summary>
    private List<string> TypedColumnOptions(QualifiedName table, List<TableColumn> cols, List<string> after)
    {
        var defs = new List<string>();
        foreach (var c in cols)
        {
            var d = new StringBuilder();
            if (c.Default is not null && c.Generated == '\0' && c.Identity == '\0') d.Append(CultureInfo.InvariantCulture, $" DEFAULT {c.Default}");
            if (c.NotNull) d.Append(" NOT NULL");
            if (d.Length > 0) defs.Add($"{Sql.Ident(c.Name)} WITH OPTIONS{d}");
            AddColumnOptions(table, c, after);
        }
        return defs;
    }

    private void AddColumnOptions(QualifiedName table, TableColumn c, List<string> after)
    {
        var target = TargetMajor;
        if (c.Compression is { } compression && target >= 14)
        {
            if (compression == 'l' && !Options.TargetHasLz4)
            {
                Read.Warnings.Add($"Column {Sql.Ident(c.Name)} of {table} is compressed with lz4, which the target's server was built without: it gets the target's default compression.");
            }
            else
            {
                after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET COMPRESSION {(compression == 'l' ? "lz4" : "pglz")}");
            }
        }
        if (c.Storage is { } storage)
        {
            var word = storage switch { "p" => "PLAIN", "e" => "EXTERNAL", "m" => "MAIN", _ => "EXTENDED" };
            after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET STORAGE {word}");
        }
        if (c.StatTarget is { } st and >= 0)
        {
            after.Add($"ALTER TABLE ONLY {table} ALTER COLUMN {Sql.Ident(c.Name)} SET STATISTICS {st}");
        }
    }
}
