using Npgsql;

namespace PgShift.Connections;

/// <summary>A parallel worker's sessions to the source and the target, opened when first needed and again after a failure.</summary>
public sealed class WorkerSessions : IAsyncDisposable
{
    public NpgsqlConnection? Source { get; set; }
    public NpgsqlConnection? Target { get; set; }

    public async ValueTask DisposeAsync()
    {
        if (Source is not null) await Source.DisposeAsync();
        if (Target is not null) await Target.DisposeAsync();
        Source = Target = null;
    }
}
