using System.CommandLine;
using PgShift;
using PgShift.Cli;
using PgShift.Connections;

var common = new CommonOptions();
var root = new RootCommand("""
    PgShift moves a live PostgreSQL database to another server with near-zero downtime:
    precheck, schema, full copy from one snapshot, change stream (CDC), cutover, verify.
    Exit codes: 0 success, 1 a failed check, a difference found or a failed task, 2 a usage or runtime error
    (with --all-databases or --databases: the worst of the databases' codes).
    """);
// --all-databases, --databases: the commands that work on a task run it once per database.
var databases = new DatabaseOptions(common);
root.Subcommands.Add(PrecheckCommand.Create(common));
root.Subcommands.Add(databases.Apply(MigrateCommand.Create(common), DatabaseRun.Migrate));
root.Subcommands.Add(databases.Apply(StatusCommand.Create(common), DatabaseRun.OneByOne));
root.Subcommands.Add(databases.Apply(ControlCommands.Cutover(common), DatabaseRun.AllAtOnce));
root.Subcommands.Add(ControlCommands.Fallback(common));
root.Subcommands.Add(databases.Apply(ControlCommands.Stop(common), DatabaseRun.AllAtOnce));
root.Subcommands.Add(ThrottleCommand.Create(common));
root.Subcommands.Add(databases.Apply(ControlCommands.Cleanup(common), DatabaseRun.Parallel));
root.Subcommands.Add(databases.Apply(VerifyCommand.Create(common), DatabaseRun.Parallel));
VersionText.UseFor(root);
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
catch (Exception ex)
{
    return ErrorReport.Print(ex, cancel.Token);
}
finally
{
    foreach (var s in signals)
    {
        s.Dispose();
    }
}
