using System.Globalization;
using System.Text;
using PgShift.Progress;

namespace PgShift.Cli;

/// <summary>
/// Shows the copy's progress: on a terminal, a block redrawn in place (tables largest first, rows, bytes, throughput,
/// ETA, and the total); when output is not a terminal, plain lines every few seconds.
/// </summary>
internal sealed class CopyProgressRenderer(TextWriter output, bool terminal) : PacedRenderer<CopySnapshot>(terminal)
{
    private int _linesDrawn;

    protected override void Draw(CopySnapshot copy)
    {
        var lines = ProgressText.CopyLines(copy, Terminal);
        if (Terminal)
        {
            var sb = new StringBuilder();
            if (_linesDrawn > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"\u001b[{_linesDrawn}A");
            }
            foreach (var line in lines)
            {
                sb.Append("\u001b[2K").Append(line).Append('\n');
            }
            output.Write(sb.ToString());
            _linesDrawn = lines.Count;
        }
        else
        {
            foreach (var line in lines)
            {
                output.WriteLine(line);
            }
        }
        output.Flush();
    }
}
