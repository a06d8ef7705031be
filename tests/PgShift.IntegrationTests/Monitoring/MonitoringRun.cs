using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Monitoring;

/// <summary>A `pgshift migrate` in the background with its metrics port, between fresh databases, and the commands a person runs beside it.</summary>
public abstract class MonitoringRun : FreshDatabases
{
    protected TestServer Source { get; } = TestServer.Pg15;
    protected TestServer Target { get; } = TestServer.Pg17;
    protected string SourceDb { get; private set; } = "";
    protected string TargetDb { get; private set; } = "";
    protected string TaskName => "obs_" + Run;

    /// <summary>Fresh databases, the source with a table "big" of about <paramref name="megabytes"/> MB (COPY's size) and a small one.</summary>
    protected async Task<MetricsEndpoint> PrepareAsync(int megabytes)
    {
        SourceDb = await CreateAsync(Source, "obs_src");
        TargetDb = await CreateAsync(Target, "obs_tgt");
        // About 270 bytes a row in COPY's binary form.
        await Source.ExecuteAsync(SourceDb, $"""
            CREATE TABLE big (id int PRIMARY KEY, body text);
            INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, {megabytes * 3900}) g;
            CREATE TABLE events (id int PRIMARY KEY, note text);
            INSERT INTO events SELECT g, 'first' FROM generate_series(1, 100) g;
            """);
        return new MetricsEndpoint(MetricsEndpoint.FreePort());
    }

    protected PgShiftBackground StartMigrate(MetricsEndpoint metrics, params string[] more)
        => new(new[] { "migrate", "--task", TaskName, "--jobs", "2", "--source", Source.KeywordValue(SourceDb), "--target", Target.KeywordValue(TargetDb),
            "--metrics-port", metrics.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(more));

    protected async Task<PgShiftProcess.Result> PgShiftAsync(params string[] args)
    {
        var result = await PgShiftProcess.RunAsync(args.Concat(["--task", TaskName, "--target", Target.KeywordValue(TargetDb)]));
        Assert.True(result.ExitCode == 0, $"pgshift {string.Join(' ', args)}: {result.All}");
        return result;
    }

    /// <summary>Stops the task as a person would, and checks that the process ended well.</summary>
    protected async Task StopAsync(PgShiftBackground migrate)
    {
        await PgShiftAsync("stop");
        Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromMinutes(1)));
    }
}
