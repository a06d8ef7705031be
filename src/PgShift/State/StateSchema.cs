using Npgsql;
using PgShift.Progress;

namespace PgShift.State;

/// <summary>
/// The task state kept on the target in the <c>pgshift</c> schema, so that a process can die anywhere
/// and the next one knows where things stand. Holds no password.
/// </summary>
public static class StateSchema
{
    public const string Name = "pgshift";

    public static async Task EnsureAsync(NpgsqlConnection target, NpgsqlTransaction? tx, CancellationToken ct)
    {
        // A database fenced read-only (after a cutover or a fallback) is still read by status, verify and cleanup: its
        // state is as the last writer left it, and CREATE ... IF NOT EXISTS is refused there even when nothing is missing.
        await using (var readOnly = new NpgsqlCommand("SELECT current_setting('transaction_read_only') = 'on'", target, tx))
        {
            if (await readOnly.ExecuteScalarAsync(ct) is true)
            {
                return;
            }
        }
        const string sql = """
            CREATE SCHEMA IF NOT EXISTS pgshift;
            CREATE TABLE IF NOT EXISTS pgshift.tasks (
                name text PRIMARY KEY,
                source text NOT NULL DEFAULT '',
                phase text NOT NULL DEFAULT 'schema',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                last_error text,
                last_error_at timestamptz);
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS slot_name text;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS consistent_lsn pg_lsn;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS types text;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS applied_lsn pg_lsn;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS delay_bytes bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS delay_seconds double precision;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS changes_applied bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS slot_retained_bytes bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS stream_heartbeat timestamptz;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS retrying_until timestamptz;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS stop_requested boolean NOT NULL DEFAULT false;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS cutover_requested boolean NOT NULL DEFAULT false;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS cutover_requested_by integer;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS settings jsonb;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS slot_creating_at timestamptz;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS deferred_post_data boolean NOT NULL DEFAULT false;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS verify_hold_lsn pg_lsn;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS verify_held_at pg_lsn;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS max_copy_rate bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS max_apply_rate double precision;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS slot_dropped_at timestamptz;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS restore_at_cutover text[];
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS staged_lsn pg_lsn;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS staged_seq bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS staged_applied bigint;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS staged_changes bigint NOT NULL DEFAULT 0;
            ALTER TABLE pgshift.tasks ADD COLUMN IF NOT EXISTS staging_heartbeat timestamptz;
            CREATE TABLE IF NOT EXISTS pgshift.copy_tables (
                task text NOT NULL,
                source_table text NOT NULL,
                target_table text NOT NULL,
                status text NOT NULL DEFAULT 'pending',
                sync_lsn pg_lsn,
                estimated_bytes bigint NOT NULL DEFAULT 0,
                estimated_rows bigint NOT NULL DEFAULT 0,
                rows_copied bigint NOT NULL DEFAULT 0,
                bytes_copied bigint NOT NULL DEFAULT 0,
                started_at timestamptz,
                finished_at timestamptz,
                PRIMARY KEY (task, source_table));
            ALTER TABLE pgshift.copy_tables ADD COLUMN IF NOT EXISTS stream_columns text[];
            CREATE TABLE IF NOT EXISTS pgshift.stream_new_tables (
                task text NOT NULL,
                source_oid oid NOT NULL,
                change_id bigint NOT NULL,
                PRIMARY KEY (task, source_oid));
            CREATE TABLE IF NOT EXISTS pgshift.task_phases (
                task text NOT NULL,
                phase text NOT NULL,
                finished_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (task, phase));
            CREATE TABLE IF NOT EXISTS pgshift.skipped_objects (
                task text NOT NULL,
                object text NOT NULL,
                reason text NOT NULL,
                source_table text,
                PRIMARY KEY (task, object));
            CREATE TABLE IF NOT EXISTS pgshift.staged_changes (
                task text NOT NULL,
                seq bigint NOT NULL,
                kind "char" NOT NULL,
                commit_lsn pg_lsn NOT NULL,
                end_lsn pg_lsn,
                commit_time timestamptz,
                xid bigint,
                event bytea,
                PRIMARY KEY (task, seq));
            """;
        await using var cmd = new NpgsqlCommand(sql, target, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<bool> PhaseDoneAsync(NpgsqlConnection target, string task, string phase, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT to_regclass('pgshift.task_phases') IS NOT NULL", target);
        if (!(bool)(await cmd.ExecuteScalarAsync(ct))!)
        {
            return false;
        }
        await using var q = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pgshift.task_phases WHERE task = @t AND phase = @p)", target);
        q.Parameters.AddWithValue("t", task);
        q.Parameters.AddWithValue("p", phase);
        return (bool)(await q.ExecuteScalarAsync(ct))!;
    }

    public static async Task MarkPhaseDoneAsync(NpgsqlConnection target, NpgsqlTransaction? tx, string task, string phase, string source, CancellationToken ct)
    {
        await EnsureAsync(target, tx, ct);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO pgshift.tasks (name, source, phase) VALUES (@t, @s, @p)
              ON CONFLICT (name) DO UPDATE SET phase = excluded.phase, updated_at = now();
            INSERT INTO pgshift.task_phases (task, phase) VALUES (@t, @p) ON CONFLICT DO NOTHING;
            """, target, tx);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("p", phase);
        cmd.Parameters.AddWithValue("s", source);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>The task's current phase and its last error, as `pgshift status` shows them.</summary>
public static class TaskState
{
    public static async Task SetPhaseAsync(NpgsqlConnection target, string task, string source, TaskPhase phase, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO pgshift.tasks (name, source, phase) VALUES (@t, @s, @p)
            ON CONFLICT (name) DO UPDATE SET phase = excluded.phase, updated_at = now()
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("s", source);
        cmd.Parameters.AddWithValue("p", phase.Text());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The task's foreign keys and triggers wait for the cutover (the apply session cannot bypass them).</summary>
    public static async Task MarkPostDataDeferredAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET deferred_post_data = true WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Records a failure; the message must already be redacted (PgShiftException messages are).</summary>
    public static async Task RecordErrorAsync(NpgsqlConnection target, string task, string message, CancellationToken ct)
    {
        await StateSchema.EnsureAsync(target, null, ct);
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET last_error = @e, last_error_at = now(), updated_at = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("e", PgShift.Redactor.Redact(message));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Removes the task's record from the target's state (its tables stay): a later migrate of the name starts afresh.</summary>
    public static async Task PurgeAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        if (await TaskLock.IsHeldAsync(target, task, ct))
        {
            throw new PgShiftException($"A pgshift process is running task {task}.", $"Stop it first (pgshift stop --task {task}), then purge.");
        }
        await using var cmd = new NpgsqlCommand("""
            DELETE FROM pgshift.copy_tables WHERE task = @t;
            DELETE FROM pgshift.stream_new_tables WHERE task = @t;
            DELETE FROM pgshift.task_phases WHERE task = @t;
            DELETE FROM pgshift.skipped_objects WHERE task = @t;
            DELETE FROM pgshift.staged_changes WHERE task = @t;
            DELETE FROM pgshift.tasks WHERE name = @t;
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
