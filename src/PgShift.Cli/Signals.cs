using System.Runtime.InteropServices;

namespace PgShift.Cli;

/// <summary>
/// SIGINT (Ctrl-C), SIGTERM (a service manager, kill) and SIGHUP (a closed terminal) all end a command the same way:
/// its work is cancelled, and what it leaves behind resumes (a waiting cutover withdraws its request). A command that
/// can stop more gently adds a <see cref="AddGentleStop">gentle stop</see>: the first signal then asks for that, a second one cancels.
/// </summary>
internal static class Signals
{
    private static int _received;

    /// <summary>Cancelled by the second signal, or the first when no gentle stop is set (or it declined).</summary>
    public static CancellationTokenSource Cancel { get; } = new();

    private static readonly List<Func<bool>> GentleStops = [];

    /// <summary>
    /// Asked on the first signal (each task's, when a command runs several); returns false when it cannot stop gently
    /// (the command is then cancelled).
    /// </summary>
    /// <returns>Removes it (when its task has ended, it has nothing to stop).</returns>
    public static IDisposable AddGentleStop(Func<bool> stop)
    {
        lock (GentleStops)
        {
            GentleStops.Add(stop);
        }
        return new Removal(stop);
    }

    private sealed class Removal(Func<bool> stop) : IDisposable
    {
        public void Dispose()
        {
            lock (GentleStops)
            {
                GentleStops.Remove(stop);
            }
        }
    }

    private static bool StopGently()
    {
        Func<bool>[] stops;
        lock (GentleStops)
        {
            stops = [.. GentleStops];
        }
        // Every task is asked, even after one declined.
        return stops.Length > 0 && stops.Select(stop => stop()).ToList().TrueForAll(stopped => stopped);
    }

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
        if (Interlocked.Increment(ref _received) == 1 && StopGently())
        {
            return;
        }
        Cancel.Cancel();
    }
}
