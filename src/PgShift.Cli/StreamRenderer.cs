using PgShift.Progress;

namespace PgShift.Cli;

/// <summary>The change stream's delay, rate and state: one line redrawn on a terminal, plain lines every 5 s otherwise.</summary>
internal sealed class StreamRenderer(TextWriter output, bool terminal) : PacedRenderer<StreamSnapshot>(terminal)
{
    /// <summary>Draws the stream's end, and ends the line on a terminal.</summary>
    public override void Finish(StreamSnapshot? snapshot)
    {
        base.Finish(snapshot);
        if (Terminal)
        {
            output.WriteLine();
        }
    }

    protected override void Draw(StreamSnapshot stream)
    {
        var line = ProgressText.StreamLine(stream);
        if (Terminal)
        {
            output.Write("\r\u001b[2K" + line);
        }
        else
        {
            output.WriteLine(line);
        }
        output.Flush();
    }
}
