using PgShift.Catalog;

namespace PgShift.Precheck;

/// <summary>servers.distinct, servers.encoding, target.extensions: what depends on both servers at once.</summary>
public sealed class ServerPairCheck : IPrecheck
{
    private static readonly HashSet<string> BuiltIn = new(StringComparer.Ordinal) { "plpgsql" };

    public Task<IEnumerable<CheckResult>> RunAsync(PrecheckContext c, CancellationToken ct)
    {
        var s = c.SourceFacts;
        var t = c.TargetFacts;
        var results = new List<CheckResult>();

        var sameServer = s.SystemIdentifier is not null && t.SystemIdentifier is not null
            ? s.SystemIdentifier == t.SystemIdentifier
            : c.SourceSpec.HostDisplay == c.TargetSpec.HostDisplay;
        results.Add(sameServer && s.Database == t.Database
            ? CheckResult.Fail("servers.distinct", $"Source and target are the same database ({s.Database} on {c.SourceSpec.HostDisplay}).",
                "Point --target at another database or server.")
            : CheckResult.Pass("servers.distinct", "Source and target are different databases."));

        results.Add(s.Encoding == t.Encoding || t.Encoding == "UTF8" && s.Encoding == "SQL_ASCII"
            ? CheckResult.Pass("servers.encoding", $"Encodings: source {s.Encoding}, target {t.Encoding}.")
            : t.Encoding == "UTF8"
                ? CheckResult.Warn("servers.encoding", $"Source encoding {s.Encoding} differs from the target's {t.Encoding}; text is converted on the way, which is safe into UTF8.")
                : CheckResult.Fail("servers.encoding", $"Source encoding {s.Encoding} differs from the target's {t.Encoding}; characters may not convert.",
                    $"Create the target database with ENCODING '{s.Encoding}' (or UTF8)."));

        var missing = s.Extensions.Where(e => !BuiltIn.Contains(e) && !t.Extensions.Contains(e) && !t.AvailableExtensions.Contains(e)).Order(StringComparer.Ordinal).ToList();
        results.Add(missing.Count == 0
            ? CheckResult.Pass("target.extensions", !s.Extensions.Any(e => !BuiltIn.Contains(e))
                ? "The source uses no extensions."
                : $"Every source extension is available on the target: {NameList.Of(s.Extensions.Where(e => !BuiltIn.Contains(e)).Order(StringComparer.Ordinal))}.")
            : CheckResult.Fail("target.extensions", $"Extensions used on the source are not available on the target: {NameList.Of(missing)}.",
                "Install them on the target server (or enable them in the managed service's allow-list), or exclude the objects that use them."));
        return Task.FromResult<IEnumerable<CheckResult>>(results);
    }
}
