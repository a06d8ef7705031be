namespace PgShift.Cli;

/// <summary>How a command's failure is said and which exit code it gives: one place for the whole program and for each task of several.</summary>
internal static class ErrorReport
{
    /// <summary>Prints <paramref name="ex"/> for a person (what failed, then the fix) and returns its exit code.</summary>
    public static int Print(Exception ex, CancellationToken cancel)
    {
        switch (ex)
        {
            case OperationCanceledException when cancel.IsCancellationRequested:
                Console.Error.WriteLine("Cancelled.");
                return ExitCodes.Error;
            case PgShiftException p:
                Console.Error.WriteLine($"error: {p.Message}");
                Trace(p);
                if (p.Fix is not null)
                {
                    Console.Error.WriteLine($"fix: {p.Fix}");
                }
                return p is TaskFailedException ? ExitCodes.Failed : ExitCodes.Error;
            default:
                Console.Error.WriteLine($"error: {Redactor.Redact(ex.Message)}");
                Trace(ex);
                return ExitCodes.Error;
        }
    }

    // PGSHIFT_TRACE=1: the error's causes and where they arose, for a bug report (redacted like every message).
    private static void Trace(Exception ex)
    {
        if (Environment.GetEnvironmentVariable("PGSHIFT_TRACE") == "1")
        {
            Console.Error.WriteLine(Redactor.Redact(ex.ToString()));
        }
    }
}
