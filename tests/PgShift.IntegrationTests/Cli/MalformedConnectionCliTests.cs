using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Cli;

/// <summary>
/// Every command, given a password-bearing connection string that does not parse (as --source or as --target), refuses it
/// with exit code 2 and a message that names the option, says what is wrong and how to write it, and never shows the password.
/// </summary>
public sealed class MalformedConnectionCliTests(Pg12To17 pair) : IClassFixture<Pg12To17>
{
    private const string Secret = "Pw_S3cret!q7";

    private static readonly string[] Malformed =
    [
        $"postgress://pwuser:{Secret}@127.0.0.1:5432/ddb",
        $"mysql://pwuser:{Secret}@127.0.0.1:5432/ddb",
        $"postgresql+psycopg2://pwuser:{Secret}@127.0.0.1/ddb",
        $"postgres:/pwuser:{Secret}@127.0.0.1/ddb",
        $"pwuser:{Secret}@127.0.0.1:5432/ddb",
        $"host=127.0.0.1 {Secret} dbname=ddb",
        $"host=127.0.0.1 password='{Secret} dbname=ddb",
        $"postgres://pwuser:{Secret}%zz@127.0.0.1/ddb",
        $"postgres://pwuser:{Secret}@127.0.0.1/ddb%zz",
        $"postgres://pwuser:{Secret}@127.0.0.1:99999/ddb",
        $"postgres://pwuser:{Secret}/ddb",
        $"host=127.0.0.1 password={Secret} port=abc",
        $"host=127.0.0.1 pasword={Secret}",
        $"postgres://pwuser:{Secret}@127.0.0.1/ddb?{Secret}",
        $"postgres://pwuser:{Secret}@[::1/ddb",
        $"host=127.0.0.1 password={Secret} sslmode=sometimes",
    ];

    private static readonly string[] Commands = ["precheck", "migrate", "status", "stop", "cutover", "verify", "cleanup"];

    [Fact]
    public async Task Every_command_refuses_a_malformed_connection_string_without_printing_its_password()
    {
        var good = pair.Target.KeywordValue(pair.TargetDb);
        var runs = new List<(string Command, string Option, string Text)>();
        foreach (var command in Commands)
        {
            foreach (var text in Malformed)
            {
                runs.Add((command, "--source", text));
                runs.Add((command, "--target", text));
            }
        }
        var failures = new List<string>();
        // Two at a time: each run is a short-lived process that stops at parsing, before any connection.
        foreach (var batch in runs.Chunk(2))
        {
            var results = await Task.WhenAll(batch.Select(async r =>
            {
                var (source, target) = r.Option == "--source" ? (r.Text, good) : (good, r.Text);
                return (Run: r, Result: await PgShiftProcess.RunAsync([r.Command, "--source", source, "--target", target, "--task", "bad_input"]));
            }));
            foreach (var (run, result) in results)
            {
                var what = $"pgshift {run.Command} {run.Option} '{run.Text}': exit {result.ExitCode}\n{result.All}";
                if (result.All.Contains("Pw_S3cret", StringComparison.Ordinal) || result.All.Contains("S3cret", StringComparison.Ordinal))
                {
                    failures.Add("password printed: " + what);
                }
                else if (result.ExitCode != 2 || !result.Stderr.Contains($"error: {run.Option}: The connection string ", StringComparison.Ordinal)
                    || !result.Stderr.Contains("is not understood: ", StringComparison.Ordinal) || !result.Stderr.Contains("\nfix: ", StringComparison.Ordinal)
                    || result.All.Contains("Exception", StringComparison.Ordinal))
                {
                    failures.Add("unexpected answer: " + what);
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {runs.Count} runs went wrong:\n" + string.Join("\n", failures.Take(10)));
        Assert.Equal(0L, await pair.Target.ScalarAsync<long>(pair.TargetDb, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgshift'"));
    }
}
