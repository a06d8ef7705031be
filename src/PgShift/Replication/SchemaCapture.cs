using Npgsql;
using PgShift.Catalog;
using PgShift.Settings;

namespace PgShift.Replication;

/// <summary>
/// Capture of schema changes on the source, in commit order with the data. Two event triggers of the task's
/// (ddl_command_end and sql_drop) write one row per DDL statement into <c>pgshift.ddl_&lt;task&gt;</c>, a table in
/// the task's publication: the row reaches the stream inside the transaction that ran the statement, at its exact
/// place among the changes, on every source version (a logical message would need 14+). The row holds what the
/// target's statement is built from: each affected table's shape before and after (columns by attnum, so a rename
/// is told from a drop and an add; constraints, indexes and triggers by name), each affected view, sequence,
/// function or enum before and after, and what was dropped. "Before" comes from <c>pgshift.shapes_&lt;task&gt;</c>,
/// a shadow of the shapes as the capture last saw them, kept in the same transaction as the DDL.
/// </summary>
public static class SchemaCapture
{
    /// <summary>The schema on the source that holds the capture objects (the same name as the target's state schema).</summary>
    public const string Schema = "pgshift";

    public static string ChangeTable(string task) => "ddl_" + task;
    public static string ShadowTable(string task) => "shapes_" + task;
    private static string CaptureFunction(string task) => "capture_" + task;
    private static string StashFunction(string task) => "stash_" + task;
    private static string ShapeFunction(string task) => "shape_" + task;
    private static string DefinitionFunction(string task) => "definition_" + task;
    private static string PartsFunction(string task) => "parts_" + task;
    private static string DroppedSetting(string task) => "pgshift.dropped_" + task;

    /// <summary>The event triggers' names, within PostgreSQL's 63 bytes whatever the task's length.</summary>
    public static (string End, string Drop) TriggerNames(string task)
    {
        static string Fit(string name) => name.Length <= 63 ? name : name[..54] + "_" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)))[..8].ToLowerInvariant();
        return (Fit($"pgshift_{task}_ddl"), Fit($"pgshift_{task}_drop"));
    }

    /// <summary>The capture table as the stream names it (schema, table).</summary>
    public static QualifiedName ChangeTableName(string task) => new(Schema, ChangeTable(task));

    /// <summary>Whether the source's user may create event triggers (a superuser; on Amazon RDS, a member of rds_superuser is one for this).</summary>
    public static async Task<(bool Possible, string? WhyNot)> PossibleAsync(NpgsqlConnection source, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", source);
        var super = await cmd.ExecuteScalarAsync(ct) is true;
        return super ? (true, null) : (false, $"the source's user {source.UserName} is not a superuser, and only a superuser may create the event triggers that capture schema changes (on Amazon RDS or Aurora, a member of rds_superuser)");
    }

    /// <summary>What a task's capture left on the source (event triggers, tables, functions), by name; empty when none.</summary>
    public static async Task<List<string>> ObjectsAsync(NpgsqlConnection source, string? task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT 'event trigger ' || quote_ident(evtname) FROM pg_event_trigger
            WHERE evtname LIKE 'pgshift\_%' AND (@t::text IS NULL OR evtname = ANY(@names))
            UNION ALL
            SELECT 'table pgshift.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'pgshift' AND c.relkind = 'r' AND (c.relname LIKE 'ddl\_%' OR c.relname LIKE 'shapes\_%')
              AND (@t::text IS NULL OR c.relname IN ('ddl_' || @t, 'shapes_' || @t))
              -- the target's state tables of a way back share the schema: only the capture's own
              AND EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid AND p.proname = 'capture_' || substr(c.relname, strpos(c.relname, '_') + 1))
            ORDER BY 1
            """, source);
        var (end, drop) = task is null ? ("", "") : TriggerNames(task);
        cmd.Parameters.AddWithValue("t", NpgsqlTypes.NpgsqlDbType.Text, (object?)task ?? DBNull.Value);
        cmd.Parameters.AddWithValue("names", new[] { end, drop });
        var list = new List<string>();
        await using var rd = await cmd.ExecuteReaderAsync(ct);
        while (await rd.ReadAsync(ct))
        {
            list.Add(rd.GetString(0));
        }
        return list;
    }

    /// <summary>
    /// Creates (or replaces) the task's capture objects and fills the shadow with every user table, view, sequence,
    /// function and enum as it is now. Run before the task's publication, which must include <see cref="ChangeTable"/>.
    /// </summary>
    public static async Task InstallAsync(NpgsqlConnection source, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(InstallSql(task, source.PostgreSqlVersion.Major), source);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Drops the task's capture objects; returns what was dropped, for the cleanup's report.</summary>
    public static async Task<List<string>> DropAsync(NpgsqlConnection source, string task, CancellationToken ct)
    {
        var found = await ObjectsAsync(source, task, ct);
        if (found.Count == 0)
        {
            return found;
        }
        var (end, drop) = TriggerNames(task);
        await using var cmd = new NpgsqlCommand($"""
            DROP EVENT TRIGGER IF EXISTS {Sql.Ident(end)};
            DROP EVENT TRIGGER IF EXISTS {Sql.Ident(drop)};
            DROP FUNCTION IF EXISTS {Schema}.{Sql.Ident(CaptureFunction(task))}();
            DROP FUNCTION IF EXISTS {Schema}.{Sql.Ident(StashFunction(task))}();
            DROP FUNCTION IF EXISTS {Schema}.{Sql.Ident(ShapeFunction(task))}(oid);
            DROP FUNCTION IF EXISTS {Schema}.{Sql.Ident(DefinitionFunction(task))}(regclass, oid);
            DROP FUNCTION IF EXISTS {Schema}.{Sql.Ident(PartsFunction(task))}(jsonb);
            DROP TABLE IF EXISTS {Schema}.{Sql.Ident(ChangeTable(task))};
            DROP TABLE IF EXISTS {Schema}.{Sql.Ident(ShadowTable(task))};
            """, source);
        await cmd.ExecuteNonQueryAsync(ct);
        // The schema goes too when nothing else is in it (a way back keeps its state there).
        await using var schema = new NpgsqlCommand($"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{Schema}')
                 AND NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{Schema}')
                 AND NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = '{Schema}') THEN
                DROP SCHEMA IF EXISTS {Schema};
              END IF;
            END $$
            """, source);
        await schema.ExecuteNonQueryAsync(ct);
        return found;
    }

    /// <summary>
    /// A table's shape as JSON, read in the caller's snapshot (a table brought into the task mid-stream is created on
    /// the target as it was at its copy's snapshot); null when the table does not exist.
    /// </summary>
    public static async Task<string?> ShapeAsync(NpgsqlConnection source, string task, uint oid, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"SELECT {Schema}.{Sql.Ident(ShapeFunction(task))}(@o)::text", source);
        cmd.Parameters.AddWithValue("o", NpgsqlTypes.NpgsqlDbType.Oid, oid);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    private static string InstallSql(string task, int major)
    {
        var changes = $"{Schema}.{Sql.Ident(ChangeTable(task))}";
        var shadow = $"{Schema}.{Sql.Ident(ShadowTable(task))}";
        var capture = $"{Schema}.{Sql.Ident(CaptureFunction(task))}";
        var stash = $"{Schema}.{Sql.Ident(StashFunction(task))}";
        var shape = $"{Schema}.{Sql.Ident(ShapeFunction(task))}";
        var definition = $"{Schema}.{Sql.Ident(DefinitionFunction(task))}";
        var setting = Sql.Literal(DroppedSetting(task));
        var parts = $"{Schema}.{Sql.Ident(PartsFunction(task))}";
        var (endTrigger, dropTrigger) = TriggerNames(task);
        var userObject = $"{Schema}.{Sql.Ident("user_object_" + task)}";
        var generated = major >= 12 ? "a.attgenerated" : "''";
        var partitionKey = major >= 10 ? "CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END" : "NULL";
        var partitionOf = major >= 10 ? "c.relispartition" : "false";
        return $$"""
            CREATE SCHEMA IF NOT EXISTS {{Schema}};
            CREATE TABLE IF NOT EXISTS {{changes}} (
                id bigserial PRIMARY KEY, tag text NOT NULL, statement text, tables jsonb NOT NULL, objects jsonb NOT NULL,
                commands jsonb NOT NULL, dropped jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());
            -- Outside system schemas and PgShift's own, not a member of an extension.
            CREATE OR REPLACE FUNCTION {{userObject}}(cls text, obj oid, schema name) RETURNS boolean LANGUAGE sql STABLE AS $f$
            SELECT schema NOT IN ('pg_catalog', 'information_schema', '{{Schema}}') AND schema NOT LIKE 'pg\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = cls::regclass AND d.objid = obj AND d.deptype = 'e')
            $f$;
            CREATE TABLE IF NOT EXISTS {{shadow}} (
                classid text NOT NULL, objid oid NOT NULL, identity text NOT NULL, parts text[] NOT NULL, shape jsonb NOT NULL,
                PRIMARY KEY (classid, objid));

            -- A table as the target's statements need it. Names of indexes, constraints and triggers are unique per table
            -- (per schema for indexes); "parts" lists them as the dropped-objects function names them.
            CREATE OR REPLACE FUNCTION {{shape}}(rel oid) RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $f$
            SELECT jsonb_build_object(
              'oid', c.oid, 'schema', n.nspname, 'name', c.relname, 'kind', c.relkind, 'persistence', c.relpersistence,
              'deparsed', quote_ident(n.nspname) || '.' || quote_ident(c.relname),
              'repl_ident', c.relreplident, 'owner', pg_get_userbyid(c.relowner), 'options', to_jsonb(c.reloptions),
              'comment', obj_description(c.oid, 'pg_class'),
              'owned_sequences', coalesce((SELECT jsonb_agg(jsonb_build_object('column', a.attname, 'sequence', format('%I.%I', sn.nspname, s.relname)) ORDER BY a.attnum)
                FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.deptype = 'a'), '[]'),
              'part_key', {{partitionKey}},
              'partition_of', (SELECT jsonb_build_object('schema', pn.nspname, 'name', p.relname) FROM pg_inherits i
                               JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
                               WHERE i.inhrelid = c.oid AND {{partitionOf}}),
              'bound', CASE WHEN {{partitionOf}} THEN pg_get_expr(c.relpartbound, c.oid) END,
              'columns', coalesce((SELECT jsonb_agg(jsonb_build_object(
                  'num', a.attnum, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'type_oid', a.atttypid,
                  'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity,
                  'generated', {{generated}}, 'local', a.attislocal, 'comment', col_description(c.oid, a.attnum),
                  'collation', CASE WHEN a.attcollation <> t.typcollation THEN
                      (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                       WHERE co.oid = a.attcollation) END) ORDER BY a.attnum)
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
              'constraints', coalesce((SELECT jsonb_agg(jsonb_build_object('name', k.conname, 'type', k.contype,
                  'def', pg_get_constraintdef(k.oid), 'local', k.conislocal, 'comment', obj_description(k.oid, 'pg_constraint')) ORDER BY k.conname)
                FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'f', 'c', 'x')), '[]'),
              'indexes', coalesce((SELECT jsonb_agg(jsonb_build_object('name', ic.relname, 'def', pg_get_indexdef(x.indexrelid),
                  'comment', obj_description(ic.oid, 'pg_class'),
                  'inherited', EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = x.indexrelid)) ORDER BY ic.relname)
                FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
                WHERE x.indrelid = c.oid
                  -- the index of a key or exclusion constraint comes with it (a partition's copy of its parent's index is marked inherited)
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x'))), '[]'),
              'triggers', coalesce((SELECT jsonb_agg(jsonb_build_object('name', g.tgname, 'def', pg_get_triggerdef(g.oid), 'enabled', g.tgenabled) ORDER BY g.tgname)
                FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), '[]'))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = rel AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
            $f$;

            -- A view, sequence, function or enum type as the target's statements need it; null for another kind.
            CREATE OR REPLACE FUNCTION {{definition}}(cls regclass, obj oid) RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $f$
            SELECT CASE
              WHEN cls = 'pg_class'::regclass THEN (
                SELECT jsonb_build_object('kind', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'sequence' END,
                  'schema', n.nspname, 'name', c.relname, 'identity', format('%I.%I', n.nspname, c.relname),
                  'owner', pg_get_userbyid(c.relowner), 'comment', obj_description(c.oid, 'pg_class'), 'options', to_jsonb(c.reloptions),
                  'def', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
                  'sequence', (SELECT jsonb_build_object('type', format_type(s.seqtypid, NULL), 'start', s.seqstart, 'increment', s.seqincrement,
                      'min', s.seqmin, 'max', s.seqmax, 'cache', s.seqcache, 'cycle', s.seqcycle) FROM pg_sequence s WHERE s.seqrelid = c.oid))
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = obj AND c.relkind IN ('v', 'm', 'S'))
              WHEN cls = 'pg_proc'::regclass THEN (
                SELECT jsonb_build_object('kind', CASE WHEN p.prokind = 'p' THEN 'procedure' ELSE 'function' END, 'schema', n.nspname, 'name', p.proname,
                  'identity', (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity,
                  'owner', pg_get_userbyid(p.proowner), 'comment', obj_description(p.oid, 'pg_proc'), 'def', pg_get_functiondef(p.oid))
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = obj AND p.prokind IN ('f', 'p'))
              WHEN cls = 'pg_type'::regclass THEN (
                SELECT jsonb_build_object('kind', CASE t.typtype WHEN 'e' THEN 'enum' ELSE 'type' END, 'schema', n.nspname, 'name', t.typname,
                  'identity', format('%I.%I', n.nspname, t.typname), 'owner', pg_get_userbyid(t.typowner), 'comment', obj_description(t.oid, 'pg_type'),
                  'labels', (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid))
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                -- not the row type of a table or view, not an array type
                WHERE t.oid = obj AND (t.typrelid = 0 OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
                  AND NOT (t.typcategory = 'A' AND t.typelem <> 0))
            END
            $f$;

            -- What a table's or object's shadow entry names, as pg_event_trigger_dropped_objects() names the parts it drops.
            CREATE OR REPLACE FUNCTION {{parts}}(shape jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
            SELECT CASE WHEN shape ? 'columns' THEN
                ARRAY['table:' || format('%I.%I', shape->>'schema', shape->>'name')]
                || ARRAY(SELECT 'index:' || format('%I.%I', shape->>'schema', i->>'name') FROM jsonb_array_elements(shape->'indexes') i)
                || ARRAY(SELECT 'table constraint:' || format('%I on %I.%I', k->>'name', shape->>'schema', shape->>'name') FROM jsonb_array_elements(shape->'constraints') k)
                || ARRAY(SELECT 'trigger:' || format('%I on %I.%I', g->>'name', shape->>'schema', shape->>'name') FROM jsonb_array_elements(shape->'triggers') g)
              ELSE ARRAY[(CASE shape->>'kind' WHEN 'enum' THEN 'type' ELSE shape->>'kind' END) || ':' || (shape->>'identity')] END
            $f$;

            CREATE OR REPLACE FUNCTION {{stash}}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
            BEGIN
              PERFORM set_config({{setting}}, (coalesce(nullif(current_setting({{setting}}, true), ''), '[]')::jsonb || coalesce((
                SELECT jsonb_agg(jsonb_build_object('type', object_type, 'identity', object_identity, 'schema', schema_name, 'original', original))
                FROM pg_event_trigger_dropped_objects()
                WHERE coalesce(schema_name, '') <> '{{Schema}}' AND NOT is_temporary), '[]'))::text, true);
            END
            $f$;

            CREATE OR REPLACE FUNCTION {{capture}}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
            DECLARE
              cmds jsonb; dropped jsonb; tables jsonb := '[]'; objects jsonb := '[]'; r record; after jsonb;
            BEGIN
              dropped := coalesce(nullif(current_setting({{setting}}, true), ''), '[]')::jsonb;
              PERFORM set_config({{setting}}, '', true);
              -- PgShift's own statements (a table added to the task's publication, say) are not the application's.
              IF current_setting('application_name', true) LIKE 'pgshift%' THEN
                RETURN;
              END IF;
              SELECT coalesce(jsonb_agg(jsonb_build_object('tag', command_tag, 'type', object_type, 'identity', object_identity,
                       'schema', schema_name, 'class', classid::regclass::text, 'oid', objid, 'sub', objsubid)), '[]')
                INTO cmds FROM pg_event_trigger_ddl_commands()
                WHERE NOT in_extension AND coalesce(schema_name, '') <> '{{Schema}}'
                  AND NOT (object_type = 'publication' AND object_identity LIKE 'pgshift\_%')
                  AND coalesce(schema_name, '') NOT LIKE 'pg\_temp%' AND coalesce(schema_name, '') NOT LIKE 'pg\_toast%';
              IF cmds = '[]' AND dropped = '[]' THEN
                -- PgShift's own objects, a temporary table, an extension's script: nothing the target follows.
                IF tg_tag NOT IN ('GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES') THEN
                  RETURN;
                END IF;
              END IF;
              -- The tables involved: named by a command (directly, or through an index, constraint, trigger or default),
              -- owning something dropped, or the partitions of a partitioned table involved (ATTACH, DETACH).
              FOR r IN
                WITH named AS (
                  SELECT CASE WHEN c.relkind IN ('i', 'I') THEN x.indrelid ELSE c.oid END AS rel
                  FROM jsonb_array_elements(cmds) e JOIN pg_class c ON c.oid = (e->>'oid')::oid AND e->>'class' = 'pg_class'
                  LEFT JOIN pg_index x ON x.indexrelid = c.oid
                  UNION SELECT k.conrelid FROM jsonb_array_elements(cmds) e JOIN pg_constraint k ON k.oid = (e->>'oid')::oid AND e->>'class' = 'pg_constraint'
                  UNION SELECT g.tgrelid FROM jsonb_array_elements(cmds) e JOIN pg_trigger g ON g.oid = (e->>'oid')::oid AND e->>'class' = 'pg_trigger'
                  UNION SELECT d.adrelid FROM jsonb_array_elements(cmds) e JOIN pg_attrdef d ON d.oid = (e->>'oid')::oid AND e->>'class' = 'pg_attrdef'
                  UNION SELECT s.objid FROM {{shadow}} s WHERE s.classid = 'pg_class' AND s.shape ? 'columns'
                    AND s.parts && ARRAY(SELECT (d->>'type') || ':' || (d->>'identity') FROM jsonb_array_elements(dropped) d)),
                involved AS (
                  SELECT rel FROM named WHERE rel IS NOT NULL AND rel <> 0
                  UNION SELECT i.inhrelid FROM pg_inherits i JOIN named ON i.inhparent = named.rel
                  UNION SELECT s.objid FROM {{shadow}} s JOIN {{shadow}} p ON p.classid = 'pg_class' AND p.objid IN (SELECT rel FROM named)
                    WHERE s.classid = 'pg_class' AND s.shape->'partition_of' = jsonb_build_object('schema', p.shape->'schema', 'name', p.shape->'name'))
                SELECT v.rel, s.shape AS before FROM involved v LEFT JOIN {{shadow}} s ON s.classid = 'pg_class' AND s.objid = v.rel AND s.shape ? 'columns'
              LOOP
                after := {{shape}}(r.rel);
                IF after IS NULL AND r.before IS NULL THEN
                  CONTINUE;
                END IF;
                IF after IS DISTINCT FROM r.before THEN
                  tables := tables || jsonb_build_object('before', r.before, 'after', after);
                END IF;
                IF after IS NULL THEN
                  DELETE FROM {{shadow}} WHERE classid = 'pg_class' AND objid = r.rel;
                ELSE
                  INSERT INTO {{shadow}} VALUES ('pg_class', r.rel, format('%I.%I', after->>'schema', after->>'name'), {{parts}}(after), after)
                  ON CONFLICT (classid, objid) DO UPDATE SET identity = excluded.identity, parts = excluded.parts, shape = excluded.shape;
                END IF;
              END LOOP;
              -- Views, sequences, functions and enums: named by a command, or dropped.
              FOR r IN
                SELECT x.cls, x.obj, s.shape AS before FROM (
                  SELECT DISTINCT e->>'class' AS cls, (e->>'oid')::oid AS obj FROM jsonb_array_elements(cmds) e
                  WHERE e->>'class' IN ('pg_class', 'pg_proc', 'pg_type') AND (e->>'oid')::oid <> 0
                  UNION SELECT s.classid, s.objid FROM {{shadow}} s WHERE NOT s.shape ? 'columns'
                    AND s.parts && ARRAY(SELECT (d->>'type') || ':' || (d->>'identity') FROM jsonb_array_elements(dropped) d)) x
                LEFT JOIN {{shadow}} s ON s.classid = x.cls AND s.objid = x.obj AND NOT s.shape ? 'columns'
              LOOP
                after := {{definition}}(r.cls::regclass, r.obj);
                IF after IS NULL AND r.before IS NULL THEN
                  CONTINUE;
                END IF;
                IF after IS DISTINCT FROM r.before THEN
                  objects := objects || jsonb_build_object('before', r.before, 'after', after);
                END IF;
                IF after IS NULL THEN
                  DELETE FROM {{shadow}} WHERE classid = r.cls AND objid = r.obj;
                ELSE
                  INSERT INTO {{shadow}} VALUES (r.cls, r.obj, after->>'identity', {{parts}}(after), after)
                  ON CONFLICT (classid, objid) DO UPDATE SET identity = excluded.identity, parts = excluded.parts, shape = excluded.shape;
                END IF;
              END LOOP;
              INSERT INTO {{changes}} (tag, statement, tables, objects, commands, dropped)
              VALUES (tg_tag, left(current_query(), 20000), tables, objects, cmds, dropped);
            END
            $f$;

            -- The shapes as they are now: what the first captured change of each object is compared with.
            TRUNCATE {{shadow}};
            INSERT INTO {{shadow}}
            SELECT 'pg_class', c.oid, format('%I.%I', n.nspname, c.relname), {{parts}}(s.shape), s.shape
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL (SELECT {{shape}}(c.oid) AS shape) s
            WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND {{userObject}}('pg_class', c.oid, n.nspname);
            INSERT INTO {{shadow}}
            SELECT o.cls, o.obj, d.def->>'identity', {{parts}}(d.def), d.def FROM (
                SELECT 'pg_class' AS cls, c.oid AS obj, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm', 'S')
                UNION ALL SELECT 'pg_proc', p.oid, n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
                UNION ALL SELECT 'pg_type', t.oid, n.nspname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'e') o
            CROSS JOIN LATERAL (SELECT {{definition}}(o.cls::regclass, o.obj) AS def) d
            WHERE d.def IS NOT NULL AND {{userObject}}(o.cls, o.obj, o.nspname);
            DROP FUNCTION {{userObject}}(text, oid, name);

            DROP EVENT TRIGGER IF EXISTS {{Sql.Ident(endTrigger)}};
            DROP EVENT TRIGGER IF EXISTS {{Sql.Ident(dropTrigger)}};
            CREATE EVENT TRIGGER {{Sql.Ident(dropTrigger)}} ON sql_drop EXECUTE PROCEDURE {{stash}}();
            CREATE EVENT TRIGGER {{Sql.Ident(endTrigger)}} ON ddl_command_end EXECUTE PROCEDURE {{capture}}();
            """;
    }
}
