using PgShift.Catalog;

namespace PgShift.Precheck;

public enum CheckStatus
{
    Passed,
    Warning,
    Failed,
}

/// <summary>One precheck line: a stable id (documented in the README), the outcome, the objects concerned, and the fix.</summary>
public sealed record CheckResult(string Id, CheckStatus Status, string Message, string? Fix = null)
{
    public static CheckResult Pass(string id, string message) => new(id, CheckStatus.Passed, message);
    public static CheckResult Warn(string id, string message, string? fix = null) => new(id, CheckStatus.Warning, message, fix);
    public static CheckResult Fail(string id, string message, string fix) => new(id, CheckStatus.Failed, message, fix);
}

public sealed record PrecheckReport(IReadOnlyList<CheckResult> Checks)
{
    /// <summary>The selected tables the checks looked at (partitions with their root, by their own names); empty when a server was unreachable.</summary>
    public IReadOnlyList<QualifiedName> Tables { get; init; } = [];

    public bool Passed => Checks.All(c => c.Status != CheckStatus.Failed);
}
