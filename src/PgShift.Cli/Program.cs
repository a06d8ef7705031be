using System.CommandLine;
using PgShift;
using PgShift.Cli;
using PgShift.Connections;

var common = new CommonOptions();
var root = new RootCommand("""
    PgShift moves a live PostgreSQL database to another server with near-zero downtime:
    precheck, schema, full copy from one snapshot, change stream (CDC), cutover, verify.
    Exit codes: 0 success, 1 a failed check, a difference found or a failed task, 2 a usage or runtime error.
    """);
root.Subcommands.Add(PrecheckCommand.Create(common));
root.Subcommands.Add(MigrateCommand.Create(common));
root.Subcommands.Add(StatusCommand.Create(common));
root.Subcommands.Add(ControlCommands.Cutover(common));
root.Subcommands.Add(ControlCommands.Fallback(common));
root.Subcommands.Add(ControlCommands.Stop(common));
root.Subcommands.Add(ControlCommands.Cleanup(common));
root.Subcommands.Add(VerifyCommand.Create(common));
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"error: {Redactor.Redact(error.Message)}");
    }
    Console.Error.WriteLine("Run 'pgshift --help' or 'pgshift COMMAND --help' for usage.");
    return ExitCodes.Error;
}
var signals = Signals.Register();
var cancel = Signals.Cancel;
try
{
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token);
}
catch (TaskFailedException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Trace(ex);
    if (ex.Fix is not null)
    {
        Console.Error.WriteLine($"fix: {ex.Fix}");
    }
    return ExitCodes.Failed;
}
catch (PgShiftException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Trace(ex);
    if (ex.Fix is not null)
    {
        Console.Error.WriteLine($"fix: {ex.Fix}");
    }
    return ExitCodes.Error;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled.");
    return ExitCodes.Error;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"error: {Redactor.Redact(ex.Message)}");
    Trace(ex);
    return ExitCodes.Error;
}
finally
{
    foreach (var s in signals)
    {
        s.Dispose();
    }
}

// PGSHIFT_TRACE=1: the error's causes and where they arose, for a bug report (redacted like every message).
static void Trace(Exception ex)
{
    if (Environment.GetEnvironmentVariable("PGSHIFT_TRACE") == "1")
    {
        Console.Error.WriteLine(Redactor.Redact(ex.ToString()));
    }
}
