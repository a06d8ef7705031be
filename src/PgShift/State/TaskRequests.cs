using Npgsql;
using PgShift.Connections;

namespace PgShift.State;

/// <summary>
/// Requests to the process running a task, kept in the task's row: stop, and cutover. A cutover request belongs to
/// the session that made it and is acted on only while that session lives.
/// </summary>
public static class TaskRequests
{
    /// <summary>Asks the process running the task to stop where it stands (what 'pgshift stop' does); false when the task has no state yet.</summary>
    public static async Task<bool> RequestStopAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.tasks SET stop_requested = true, updated_at = now()
            WHERE name = @t AND phase NOT IN ('finished', 'stopped')
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        try
        {
            return await cmd.ExecuteNonQueryAsync(ct) > 0;
        }
        catch (PostgresException pe) when (pe.SqlState == "42P01")
        {
            return false;
        }
    }

    /// <summary>Whether a stop has been asked for (and not yet answered).</summary>
    public static async Task<bool> StopRequestedAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT stop_requested FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>The stop request is answered: the task stopped.</summary>
    public static async Task ClearStopAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("UPDATE pgshift.tasks SET stop_requested = false WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The advisory lock that a cutover request lives by: the session that asks for the cutover holds it, and a
    /// running task acts on the request only while that session does (<see cref="LiveCutoverRequestSql"/>). However
    /// the asking process ends, its session ends with it, and a request it left behind is never acted on.
    /// </summary>
    private const string CutoverLockKeys = "hashtext('pgshift cutover'), hashtext(@t)";

    /// <summary>
    /// SQL, true when the task row <c>t</c> holds a cutover request whose session still waits for it: the session that
    /// made it holds the task's cutover lock (advisory locks of two int4 keys appear in pg_locks with objsubid 2).
    /// </summary>
    public const string LiveCutoverRequestSql = """
        (t.cutover_requested AND EXISTS (
            SELECT 1 FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.granted AND l.pid = t.cutover_requested_by AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = hashtext('pgshift cutover')::oid AND l.objid = hashtext(t.name)::oid))
        """;

    /// <summary>
    /// Asks the process running the task to cut over, on behalf of <paramref name="target"/>'s session, which must stay
    /// open for as long as the request stands: the request dies with it (see <see cref="LiveCutoverRequestSql"/>).
    /// </summary>
    public static async Task RequestCutoverAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using (var lk = new NpgsqlCommand($"SELECT pg_try_advisory_lock({CutoverLockKeys})", target))
        {
            lk.Parameters.AddWithValue("t", task);
            if (await lk.ExecuteScalarAsync(ct) is not true)
            {
                throw new PgShiftException($"Another 'pgshift cutover' is already waiting for task {task}.",
                    "Wait for it, or stop it (Ctrl-C) and run this one again.");
            }
        }
        await using var cmd = new NpgsqlCommand(
            "UPDATE pgshift.tasks SET cutover_requested = true, cutover_requested_by = pg_backend_pid(), updated_at = now() WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Withdraws the cutover request made on <paramref name="target"/>'s session (a cutover given up on).</summary>
    public static async Task WithdrawCutoverAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            UPDATE pgshift.tasks SET cutover_requested = false, cutover_requested_by = NULL, updated_at = now()
            WHERE name = @t AND cutover_requested_by = pg_backend_pid();
            SELECT pg_advisory_unlock({CutoverLockKeys});
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        await cmd.ExecuteNonQueryAsync(ct);
    }

}
