using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace PgShift.Cli;

/// <summary>
/// `pgshift --version`: the version and the commit it was built from ("pgshift 0.1.0 (commit 1a2b3c4d5e6f)"), as the
/// build embeds them in the informational version (VersionPrefix + SourceRevisionId, which the scripts pass from git).
/// </summary>
internal sealed class VersionText : SynchronousCommandLineAction
{
    public static string Text
    {
        get
        {
            var informational = typeof(VersionText).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            var plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus < 0
                ? $"pgshift {informational} (commit unknown: built outside a git checkout)"
                : $"pgshift {informational[..plus]} (commit {informational[(plus + 1)..]})";
        }
    }

    public static void UseFor(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new VersionText();
        }
    }

    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Text);
        return ExitCodes.Success;
    }
}
