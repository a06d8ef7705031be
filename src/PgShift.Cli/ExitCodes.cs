namespace PgShift.Cli;

/// <summary>The same for every command, and documented in the README.</summary>
public static class ExitCodes
{
    /// <summary>Success; for migrate: the task finished, or was stopped on request.</summary>
    public const int Success = 0;

    /// <summary>A failed check, a difference found, or a failed task.</summary>
    public const int Failed = 1;

    /// <summary>A usage or runtime error.</summary>
    public const int Error = 2;
}
