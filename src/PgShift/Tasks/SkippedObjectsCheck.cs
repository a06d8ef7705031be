using Npgsql;
using PgShift.Precheck;
using PgShift.Schema;
using PgShift.Settings;

namespace PgShift.Tasks;

/// <summary>
/// source.unsupported_objects: exactly what the schema phase will leave out, with why and with what depends on it,
/// found by reading the source as that phase reads it (so the precheck and the task cannot disagree). Lives here, not
/// in Precheck, as it uses the Schema stage.
/// </summary>
public sealed class SkippedObjectsCheck(TaskSettings settings) : IPrecheck
{
    /// <summary>Every check of a migration task's precheck, this one included.</summary>
    public static PrecheckRunner Runner(TaskSettings settings) => new(new SkippedObjectsCheck(settings));

    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        if (!settings.Schema)
        {
            return [CheckResult.Pass("source.unsupported_objects", "The task creates no schema (--types without schema): it leaves nothing out.")];
        }
        var reader = new SourceSchemaReader(c.Source, new SchemaMigrationOptions(settings));
        await ExecAsync(c.Source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ct);
        try
        {
            await reader.ReadPreDataAsync(ct);
        }
        finally
        {
            // The reader empties the session's search_path; the checks after this one read with the usual one.
            await ExecAsync(c.Source, "COMMIT; RESET search_path", CancellationToken.None);
        }
        var skips = reader.SkipSummaries();
        if (skips.Count == 0)
        {
            return [CheckResult.Pass("source.unsupported_objects", "No objects that PgShift does not migrate.")];
        }
        var described = skips.Select(s => $"{s.Cause.Display} ({s.Cause.SkipReason}"
            + (s.Dependents.Count == 0 ? ")" : $"; and with it {string.Join(", ", s.Dependents.Select(d => d.Display))})"));
        var count = skips.Sum(s => 1 + s.Dependents.Count);
        return
        [
            CheckResult.Warn("source.unsupported_objects",
                $"{Plural.Of(count, "object")} will not be migrated: {NameList.Of(described)}.",
                "Create what a C function or a base type needs on the target first (its shared library), select the tables these objects depend on, or leave them out."),
        ];
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
