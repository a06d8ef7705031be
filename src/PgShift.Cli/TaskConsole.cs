using System.Text;

namespace PgShift.Cli;

/// <summary>
/// One console for several tasks run side by side by one command: every line a task prints (its display, its summary,
/// its errors) starts with the task's database, so the lines of tasks that interleave stay readable. The database is the
/// one of the asynchronous flow that prints (an <see cref="AsyncLocal{T}"/>), so every command prints as it does for one
/// database, through <see cref="Console"/>.
/// </summary>
internal sealed class TaskConsole(TextWriter inner) : TextWriter
{
    private static readonly AsyncLocal<string?> Prefix = new();

    public override Encoding Encoding => inner.Encoding;

    /// <summary>Whether the console is shared by several tasks: the displays then add lines rather than redraw in place.</summary>
    public static bool Shared { get; private set; }

    /// <summary>From now on, lines printed in a flow that <see cref="Enter"/> named start with its name.</summary>
    public static void Share()
    {
        if (!Shared)
        {
            Shared = true;
            Console.SetOut(new TaskConsole(Console.Out));
            Console.SetError(new TaskConsole(Console.Error));
        }
    }

    /// <summary>Lines printed by this asynchronous flow (and the tasks it starts) start with <paramref name="name"/>.</summary>
    public static void Enter(string name) => Prefix.Value = $"[{name}] ";

    public override void WriteLine(string? value)
    {
        lock (inner)
        {
            inner.WriteLine(Prefix.Value + value);
        }
    }

    public override void WriteLine() => WriteLine(string.Empty);

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        // A drawing of several lines, written at once.
        var lines = value.Split('\n');
        lock (inner)
        {
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Length > 0)
                {
                    inner.Write(Prefix.Value + lines[i]);
                }
                if (i < lines.Length - 1)
                {
                    inner.Write('\n');
                }
            }
        }
    }

    public override void Write(char value)
    {
        lock (inner)
        {
            inner.Write(value);
        }
    }

    public override void Flush() => inner.Flush();
}
