using PgShift.Progress;

namespace PgShift.Cli;

/// <summary>Shows the cutover's synchronisation of the large objects: one line, redrawn in place on a terminal.</summary>
internal sealed class LargeObjectRenderer(TextWriter output, bool terminal) : PacedRenderer<LargeObjectsSnapshot>(terminal)
{
    private bool _drawn;

    protected override void Draw(LargeObjectsSnapshot snapshot)
    {
        var line = "cutover  " + ProgressText.LargeObjects(snapshot);
        if (Terminal)
        {
            output.Write((_drawn ? "\u001b[1A" : "") + "\u001b[2K" + line + "\n");
        }
        else
        {
            output.WriteLine(line);
        }
        _drawn = true;
        output.Flush();
    }
}
