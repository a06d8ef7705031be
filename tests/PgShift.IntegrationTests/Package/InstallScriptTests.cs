using System.Diagnostics;
using PgShift.IntegrationTests.Demo;

namespace PgShift.IntegrationTests.Package;

/// <summary>A fresh clone of the repository, as a new user gets it (what is committed, nothing else), removed at the end.</summary>
public sealed class FreshClone : IAsyncLifetime
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"pgshift-clone-{Guid.NewGuid():N}"[..27]);
    public string Repo => Path.Combine(Dir, "repo");
    public string Commit { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Dir);
        var clone = await Shell.RunAsync("git", ["clone", "--quiet", DemoTests.RepoRoot(), Repo], Dir);
        Assert.True(clone.ExitCode == 0, clone.Output);
        Commit = (await Shell.RunAsync("git", ["rev-parse", "HEAD"], Repo)).Output.Trim();
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Dir, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>The install section of the README, followed on a fresh clone: the scripts give a working `pgshift` on the PATH.</summary>
public sealed class InstallScriptTests(FreshClone clone) : IClassFixture<FreshClone>
{
    [Fact]
    public async Task The_install_script_puts_a_working_pgshift_on_the_PATH_that_names_its_version_and_commit()
    {
        var tools = Path.Combine(clone.Dir, "tools");
        var install = await Shell.RunAsync("bash", ["scripts/install.sh", "--tool-path", tools], clone.Repo,
            new Dictionary<string, string> { ["PGSHIFT_FEED"] = Path.Combine(clone.Dir, "feed") });
        Assert.True(install.ExitCode == 0, install.Output);
        Assert.Contains("was successfully installed", install.Output, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(clone.Dir, "feed"), "PgShift.Cli.*.nupkg"));

        // By name, from the PATH, as a user types it.
        var path = new Dictionary<string, string> { ["PATH"] = $"{tools}:{Environment.GetEnvironmentVariable("PATH")}" };
        var version = await Shell.RunAsync("bash", ["-c", "pgshift --version"], clone.Dir, path);
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Matches(@"^pgshift \d+\.\d+\.\d+ \(commit [0-9a-f]{40}\)\s*$", version.Output);
        Assert.Contains($"(commit {clone.Commit})", version.Output, StringComparison.Ordinal);

        var help = await Shell.RunAsync("bash", ["-c", "pgshift --help && pgshift migrate --help"], clone.Dir, path);
        Assert.True(help.ExitCode == 0, help.Output);
        Assert.Contains("Commands:", help.Output, StringComparison.Ordinal);
        Assert.Contains("--all-databases", help.Output, StringComparison.Ordinal);
        Assert.Contains("Exit code", help.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_binary_script_builds_one_self_contained_file_that_runs_without_the_dotnet_command()
    {
        var output = Path.Combine(clone.Dir, "binary");
        var publish = await Shell.RunAsync("bash", ["scripts/publish-binary.sh", output], clone.Repo);
        Assert.True(publish.ExitCode == 0, publish.Output);
        Assert.Equal(["pgshift"], Directory.GetFiles(output).Select(Path.GetFileName));

        // No dotnet on the PATH and no DOTNET_ROOT: the file carries its runtime.
        var version = await Shell.RunAsync(Path.Combine(output, "pgshift"), ["--version"], clone.Dir,
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["DOTNET_ROOT"] = "/nonexistent" });
        Assert.True(version.ExitCode == 0, version.Output);
        Assert.Contains($"(commit {clone.Commit})", version.Output, StringComparison.Ordinal);
    }
}

internal static class Shell
{
    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await p.WaitForExitAsync(timeout.Token);
        return new Result(p.ExitCode, await stdout + await stderr);
    }
}
