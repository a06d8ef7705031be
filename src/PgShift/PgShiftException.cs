
namespace PgShift;

/// <summary>
/// A failure to show a person: what went wrong (on which object) and what to do next. The message
/// passes through the <see cref="Redactor"/>, so it can be printed and stored as it is.
/// </summary>
public class PgShiftException(string message, string? fix = null, Exception? inner = null)
    : Exception(Redactor.Redact(message), inner)
{
    public string? Fix { get; } = fix is null ? null : Redactor.Redact(fix);
}

/// <summary>A task that started and failed, or was refused by its precheck: exit code 1, not 2.</summary>
public sealed class TaskFailedException(string message, string? fix = null, Exception? inner = null) : PgShiftException(message, fix, inner);
