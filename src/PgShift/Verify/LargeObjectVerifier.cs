using System.Collections.Concurrent;
using Npgsql;
using PgShift.Connections;
using PgShift.LargeObjects;

namespace PgShift.Verify;

/// <summary>
/// The large objects of both databases compared: the OID sets, then each object's owner, privileges, comment, size and
/// (when the sizes agree) content digest, computed by each server over its own copy, with the task's parallel jobs.
/// </summary>
public static class LargeObjectVerifier
{
    /// <summary>Differences listed one by one; the rest are counted.</summary>
    private const int Shown = 20;

    /// <param name="synchronised">The task has cut over (or has no stream): a difference is one. Before, the cutover has yet to synchronise them.</param>
    public static async Task<LargeObjectVerification> VerifyAsync(VerifyOptions options, bool synchronised, CancellationToken ct)
    {
        var sourceObjects = await ListAsync(options.Source, "source", ct);
        var targetObjects = (await ListAsync(options.Target, "target", ct)).ToDictionary(o => o.Oid);
        var targetCount = targetObjects.Count;
        var differences = new ConcurrentBag<(uint Oid, string Text)>();
        var sameSize = new List<(LargeObject Source, LargeObject Target)>();
        foreach (var s in sourceObjects)
        {
            if (!targetObjects.Remove(s.Oid, out var t))
            {
                differences.Add((s.Oid, $"large object {s.Oid}: missing on the target"));
                continue;
            }
            foreach (var d in MetadataDifferences(s, t))
            {
                differences.Add((s.Oid, d));
            }
            if (s.Size != t.Size)
            {
                differences.Add((s.Oid, $"large object {s.Oid}: size {s.Size:N0} bytes on the source, {t.Size:N0} on the target"));
            }
            else
            {
                sameSize.Add((s, t));
            }
        }
        foreach (var extra in targetObjects.Keys)
        {
            differences.Add((extra, $"large object {extra}: on the target only"));
        }
        await CompareContentAsync(options, sameSize, differences, ct);
        var sorted = differences.OrderBy(d => d.Oid).ThenBy(d => d.Text, StringComparer.Ordinal).Select(d => d.Text).ToList();
        return new LargeObjectVerification(sourceObjects.Count, targetCount, sorted.Take(Shown).ToList(), sorted.Count, synchronised);
    }

    private static IEnumerable<string> MetadataDifferences(LargeObject s, LargeObject t)
    {
        if (s.Owner != t.Owner)
        {
            yield return $"large object {s.Oid}: owner {s.Owner} on the source, {t.Owner} on the target";
        }
        if (!LargeObject.SameGrants(s.Grants, t.Grants))
        {
            static string Show(IEnumerable<LargeObjectGrant> g) => string.Join(", ", g.Select(x => x.ToString()).Order(StringComparer.Ordinal));
            yield return $"large object {s.Oid}: privileges {Show(s.Grants)} on the source; {Show(t.Grants)} on the target";
        }
        if (s.Comment != t.Comment)
        {
            yield return $"large object {s.Oid}: comment differs";
        }
    }

    /// <summary>Digests of the objects of equal size, each side computing its own, by the task's jobs in parallel.</summary>
    private static async Task CompareContentAsync(VerifyOptions options, List<(LargeObject Source, LargeObject Target)> pairs,
        ConcurrentBag<(uint Oid, string Text)> differences, CancellationToken ct)
    {
        var jobs = Math.Max(1, Math.Min(options.Jobs, pairs.Count));
        var workers = Enumerable.Range(0, jobs).Select(async worker =>
        {
            await using var source = await ConnectionOpener.OpenAsync(options.Source, "pgshift verify", ct);
            await using var target = await ConnectionOpener.OpenAsync(options.Target, "pgshift verify", ct);
            for (var i = worker; i < pairs.Count; i += jobs)
            {
                var (s, t) = pairs[i];
                var digests = await Task.WhenAll(LargeObjectCatalog.DigestAsync(source, s.Oid, s.Size, ct), LargeObjectCatalog.DigestAsync(target, t.Oid, t.Size, ct));
                if (digests[0] != digests[1])
                {
                    differences.Add((s.Oid, $"large object {s.Oid}: content differs (same size, different digest)"));
                }
            }
        });
        await Task.WhenAll(workers);
    }

    private static async Task<List<LargeObject>> ListAsync(ConnectionSpec spec, string side, CancellationToken ct)
    {
        await using var conn = await ConnectionOpener.OpenAsync(spec, "pgshift verify", ct);
        await using (var begin = new NpgsqlCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", conn))
        {
            await begin.ExecuteNonQueryAsync(ct);
        }
        return await LargeObjectCatalog.ListAsync(conn, side, ct);
    }
}
