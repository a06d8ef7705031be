using Npgsql;

namespace PgShift.State;

/// <summary>
/// Statements a task's cutover runs to put back what its stream had to change on its target (the way back's: identity
/// columns made BY DEFAULT, triggers and rules made to fire for the application only). Recorded before the change is made,
/// so that whatever happens in between, the cutover puts back every one; running one twice does no harm.
/// </summary>
public static class CutoverRestore
{
    public static async Task AddAsync(NpgsqlConnection target, string task, IReadOnlyCollection<string> statements, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            UPDATE pgshift.tasks SET restore_at_cutover =
                array(SELECT DISTINCT s FROM unnest(coalesce(restore_at_cutover, '{}') || @s) s ORDER BY s)
            WHERE name = @t
            """, target);
        cmd.Parameters.AddWithValue("t", task);
        cmd.Parameters.AddWithValue("s", statements.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<string[]> LoadAsync(NpgsqlConnection target, string task, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT coalesce(restore_at_cutover, '{}') FROM pgshift.tasks WHERE name = @t", target);
        cmd.Parameters.AddWithValue("t", task);
        return await cmd.ExecuteScalarAsync(ct) as string[] ?? [];
    }
}
