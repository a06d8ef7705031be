using PgShift.IntegrationTests.Demo;
using PgShift.IntegrationTests.Infrastructure;

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
        var clone = await Programs.RunAsync("git", ["clone", "--quiet", DemoTests.RepoRoot(), Repo], Dir);
        Assert.True(clone.ExitCode == 0, clone.All);
        Commit = (await Programs.RunAsync("git", ["rev-parse", "HEAD"], Repo)).Stdout.Trim();
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
        var install = await Programs.RunAsync("bash", ["scripts/install.sh", "--tool-path", tools], clone.Repo,
            new Dictionary<string, string> { ["PGSHIFT_FEED"] = Path.Combine(clone.Dir, "feed") });
        Assert.True(install.ExitCode == 0, install.All);
        Assert.Contains("was successfully installed", install.All, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(clone.Dir, "feed"), "PgShift.Cli.*.nupkg"));

        // By name, from the PATH, as a user types it.
        var path = new Dictionary<string, string> { ["PATH"] = $"{tools}:{Environment.GetEnvironmentVariable("PATH")}" };
        var version = await Programs.RunAsync("bash", ["-c", "pgshift --version"], clone.Dir, path);
        Assert.True(version.ExitCode == 0, version.All);
        Assert.Matches(@"^pgshift \d+\.\d+\.\d+ \(commit [0-9a-f]{40}\)\s*$", version.All);
        Assert.Contains($"(commit {clone.Commit})", version.All, StringComparison.Ordinal);

        var help = await Programs.RunAsync("bash", ["-c", "pgshift --help && pgshift migrate --help"], clone.Dir, path);
        Assert.True(help.ExitCode == 0, help.All);
        Assert.Contains("Commands:", help.All, StringComparison.Ordinal);
        Assert.Contains("--all-databases", help.All, StringComparison.Ordinal);
        Assert.Contains("Exit code", help.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_binary_script_builds_one_self_contained_file_that_runs_without_the_dotnet_command()
    {
        var output = Path.Combine(clone.Dir, "binary");
        var publish = await Programs.RunAsync("bash", ["scripts/publish-binary.sh", output], clone.Repo);
        Assert.True(publish.ExitCode == 0, publish.All);
        Assert.Equal(["pgshift"], Directory.GetFiles(output).Select(Path.GetFileName));

        // No dotnet on the PATH and no DOTNET_ROOT: the file carries its runtime.
        var version = await Programs.RunAsync(Path.Combine(output, "pgshift"), ["--version"], clone.Dir,
            new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["DOTNET_ROOT"] = "/nonexistent" });
        Assert.True(version.ExitCode == 0, version.All);
        Assert.Contains($"(commit {clone.Commit})", version.All, StringComparison.Ordinal);
    }
}

internal static class Programs
{
    /// <summary>A script or program run in <paramref name="workingDirectory"/>, given up to 10 minutes (a pack or a publish restores from NuGet).</summary>
    public static Task<PgShiftProcess.Result> RunAsync(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? env = null)
        => PgShiftProcess.RunProgramAsync(file, args, env, TimeSpan.FromMinutes(10), workingDirectory);
}
