using System.CommandLine;

namespace PgShift.Cli;

/// <summary>A command of the full set that this version does not do yet: says so and exits 2, never pretends.</summary>
internal static class NotBuiltCommand
{
    public static Command Create(CommonOptions common, string name, string description, string example)
    {
        var cmd = new Command(name, $"{description}\n\nExample:\n  {example}");
        common.AddTo(cmd);
        cmd.SetAction(_ =>
        {
            Console.Error.WriteLine($"error: 'pgshift {name}' is not built yet in this version of PgShift.");
            Console.Error.WriteLine("fix: run 'pgshift precheck' today; see the README for what each release supports.");
            return ExitCodes.Error;
        });
        return cmd;
    }
}
