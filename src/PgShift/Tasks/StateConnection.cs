using Npgsql;
using PgShift.Connections;

namespace PgShift.Tasks;

/// <summary>The task's connection to its state on the target, opened again when a restart of the target closed it.</summary>
internal sealed class StateConnection(ConnectionSpec target) : IAsyncDisposable
{
    private NpgsqlConnection? _connection;

    public async Task<NpgsqlConnection> ReviveAsync(CancellationToken ct)
    {
        if (_connection is not null)
        {
            if (await ConnectionOpener.IsAliveAsync(_connection, ct))
            {
                return _connection;
            }
            await _connection.DisposeAsync();
            _connection = null;
        }
        return _connection = await ConnectionOpener.OpenAsync(target, "pgshift state", ct);
    }

    public ValueTask DisposeAsync() => _connection?.DisposeAsync() ?? ValueTask.CompletedTask;
}
