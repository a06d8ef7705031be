using System.Globalization;
using PgShift.LargeObjects;

namespace PgShift.Precheck;

/// <summary>
/// source.large_objects: how many large objects the source holds and their size, whether the task copies them (and
/// synchronises them at cutover, as logical decoding does not carry them), and whether the task's role may read them;
/// target.large_objects: objects the target holds already.
/// </summary>
public sealed class LargeObjectCheck : IPrecheck
{
    public async Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        long count, bytes;
        try
        {
            (count, bytes) = await LargeObjectCatalog.SummaryAsync(c.Source, "source", ct);
        }
        catch (PgShiftException ex) when (c.CopiesLargeObjects)
        {
            return [CheckResult.Fail("source.large_objects", ex.Message, ex.Fix ?? "")];
        }
        catch (PgShiftException)
        {
            return [CheckResult.Pass("source.large_objects", "Large objects are not copied by this task (and its role may not read them all).")];
        }
        if (count == 0)
        {
            return [CheckResult.Pass("source.large_objects", "No large objects.")];
        }
        var what = string.Create(CultureInfo.InvariantCulture, $"{count:N0} large object{(count == 1 ? "" : "s")}, {Size(bytes)}");
        if (!c.CopiesLargeObjects)
        {
            return [CheckResult.Warn("source.large_objects",
                $"{what}: not copied by this task (it names the schemas or tables it moves, or says large_objects: false, or makes no full copy).",
                "Give --large-objects (large_objects: true in the task file) to copy them with the data, or move them separately.")];
        }
        var results = new List<CheckResult>
        {
            CheckResult.Pass("source.large_objects", $"{what}: copied in the full copy{(c.Incremental ? " and synchronised again at cutover, which compares every one" : "")}."),
        };
        var (onTarget, _) = await LargeObjectCatalog.SummaryAsync(c.Target, "target", ct);
        if (onTarget > 0)
        {
            results.Add(CheckResult.Warn("target.large_objects",
                string.Create(CultureInfo.InvariantCulture, $"The target holds {onTarget:N0} large objects already: the copy keeps those whose OID the source uses as they are") +
                (c.Incremental ? ", and the cutover makes every one equal to the source's, unlinking those the source does not have." : ", and does not compare them."),
                "Unlink them on the target first if they are not copies of the source's (SELECT lo_unlink(oid) FROM pg_largeobject_metadata)."));
        }
        return results;
    }

    /// <summary>Bytes as a person reads them: 3.2 GB, 850.0 MB, 12.4 KB.</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };
}
