using System.Runtime.InteropServices;

namespace PgShift.Cli;

/// <summary>
/// SIGINT (Ctrl-C), SIGTERM (a service manager, kill) and SIGHUP (a closed terminal) all end a command the same way:
/// its work is cancelled, and what it leaves behind resumes (a waiting cutover withdraws its request). A command that
/// can stop more gently sets <see cref="GentleStop"/>: the first signal then asks for that, a second one cancels.
/// </summary>
internal static class Signals
{
    private static int _received;

    /// <summary>Cancelled by the second signal, or the first when no gentle stop is set (or it declined).</summary>
    public static CancellationTokenSource Cancel { get; } = new();

    /// <summary>Asked on the first signal; returns false when it cannot stop gently (the command is then cancelled).</summary>
    public static Func<bool>? GentleStop { get; set; }

    public static IDisposable[] Register() =>
    [
        PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
    ];

    private static void OnSignal(PosixSignalContext context)
    {
        // The process does not end by itself: the command winds down and returns its exit code.
        context.Cancel = true;
        if (Interlocked.Increment(ref _received) == 1 && GentleStop is { } gentle && gentle())
        {
            return;
        }
        Cancel.Cancel();
    }
}
