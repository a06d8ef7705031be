using System.Diagnostics;
using System.Text;

namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>A `pgshift` process running in the background, whose output lines can be waited for.</summary>
public sealed class PgShiftBackground : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waits = new();

    public PgShiftBackground(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        // SIGHUP at its default, whatever the test run inherited (under nohup it is ignored, and so would be the
        // signal the tests send): env execs dotnet, so the process id stays pgshift's.
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--default-signal=HUP");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pgshift.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }
        _process = new Process { StartInfo = psi };
        _process.OutputDataReceived += OnLine;
        _process.ErrorDataReceived += OnLine;
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    private void OnLine(object? sender, DataReceivedEventArgs e)
    {
        if (e.Data is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(e.Data);
            foreach (var (text, seen) in _waits.Where(w => e.Data.Contains(w.Text, StringComparison.Ordinal)))
            {
                seen.TrySetResult();
            }
        }
    }

    /// <summary>Waits for a line containing <paramref name="text"/>; fails with the output so far when the process ends first.</summary>
    public async Task WaitForAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }
            _waits.Add((text, seen));
        }
        await Task.WhenAny(seen.Task, _process.WaitForExitAsync(), Task.Delay(timeout));
        Assert.True(seen.Task.IsCompleted, $"pgshift did not print '{text}'; output:\n{Output}");
    }

    /// <summary>SIGKILL: the process dies where it stands, as with kill -9.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends a signal by name (TERM, HUP, INT), as kill -s NAME does.</summary>
    public void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-s", name, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Say where it hung: what it printed.
            Assert.Fail($"pgshift did not exit within {timeout}; output so far:\n{Output}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
