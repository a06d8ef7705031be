using PgShift.Torture;

TortureOptions options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.Out.WriteLine(TortureOptions.Usage);
        return 0;
    }
    options = TortureOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine(TortureOptions.Usage);
    return 2;
}
var run = new TortureRun(options, ServerSet.FromProcessEnvironment());
await run.RunAsync();
return run.Failed ? 1 : 0;
