using System.Diagnostics;

namespace PgShift.Torture;

/// <summary>
/// One run of the real pgshift executable, a separate process whose output goes to a log file, so that it can be
/// killed with SIGKILL (no chance to clean up or commit anything) exactly like a crash.
/// </summary>
public sealed class PgShiftProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();

    private PgShiftProcess(Process process, StreamWriter log, string logPath, string command)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        Command = command;
    }

    public string LogPath { get; }
    public string Command { get; }
    public bool Killed { get; private set; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static PgShiftProcess Start(string pgshift, IReadOnlyList<string> args, string logPath, IReadOnlyDictionary<string, string> env)
    {
        var dll = pgshift.EndsWith(".dll", StringComparison.Ordinal);
        var psi = new ProcessStartInfo(dll ? "dotnet" : pgshift) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (dll)
        {
            psi.ArgumentList.Add(pgshift);
        }
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var command = "pgshift " + string.Join(' ', args);
        log.WriteLine($"# {DateTime.UtcNow:O} {command}");
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var run = new PgShiftProcess(process, log, logPath, command);
        process.OutputDataReceived += (_, e) => run.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => run.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_tail)
        {
            _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
            _tail.Enqueue(line);
            if (_tail.Count > 30)
            {
                _tail.Dequeue();
            }
        }
    }

    /// <summary>The last lines it printed, without stack frames (PGSHIFT_TRACE=1 puts them in the log).</summary>
    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join('\n', _tail.Where(l => !l.TrimStart().StartsWith("at ", StringComparison.Ordinal)).TakeLast(12));
            }
        }
    }

    /// <summary>SIGKILL: Process.Kill sends SIGKILL on Unix.</summary>
    public void KillHard()
    {
        try
        {
            _process.Kill(entireProcessTree: false);
            Killed = true;
            lock (_tail)
            {
                _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} # killed with SIGKILL by the torture harness");
            }
        }
        catch (InvalidOperationException)
        {
            // It had exited already.
        }
    }

    /// <summary>Waits for the exit; null when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            KillHard();
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        lock (_tail)
        {
            _log.Dispose();
        }
    }
}
