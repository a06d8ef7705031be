namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>A fresh source database and a fresh target database, dropped when the test class ends.</summary>
public abstract class ServerPair(TestServer source, TestServer target) : IAsyncLifetime
{
    public TestServer Source { get; } = source;
    public TestServer Target { get; } = target;
    public string SourceDb { get; private set; } = "";
    public string TargetDb { get; private set; } = "";

    public async Task InitializeAsync()
    {
        SourceDb = await Source.CreateDatabaseAsync($"src{Source.Major}");
        TargetDb = await Target.CreateDatabaseAsync($"tgt{Target.Major}");
    }

    public async Task DisposeAsync()
    {
        await Source.DropDatabaseAsync(SourceDb);
        await Target.DropDatabaseAsync(TargetDb);
    }
}

public sealed class Pg12To17 : ServerPair
{
    public Pg12To17() : base(TestServer.Pg12, TestServer.Pg17) { }
}

public sealed class Pg15To17 : ServerPair
{
    public Pg15To17() : base(TestServer.Pg15, TestServer.Pg17) { }
}

public sealed class Pg12To15 : ServerPair
{
    public Pg12To15() : base(TestServer.Pg12, TestServer.Pg15) { }
}

public sealed class Pg15ReplicaTo17 : ServerPair
{
    public Pg15ReplicaTo17() : base(TestServer.Pg15Replica, TestServer.Pg17) { }
}
