using System.Globalization;
using System.Text;
using Npgsql;

namespace PgShift.Torture;

/// <summary>
/// Writes to the source for the whole round: <c>clients</c> OLTP clients (transfers, inserts and deletes, TOAST
/// updates that change or keep the value, key updates and swaps, rows moved between partitions, no-key rows with
/// duplicates, savepoints, TRUNCATE, aborted transactions) and one client of large transactions that the source
/// streams while they run (nested savepoints, ROLLBACK TO, RELEASE, pauses while open, commit or abort).
/// Every value and choice comes from the seed; the interleaving of the clients is up to the servers.
/// </summary>
public sealed class Workload(string connectionString, int seed, int clients, double scale)
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = new();
    private long _committed, _aborted, _connectionErrors, _bigCommitted, _bigAborted, _rollbackTos, _truncates;
    private int _bigOpenAfterRollbackTo;

    public long Committed => Interlocked.Read(ref _committed);
    public long Aborted => Interlocked.Read(ref _aborted);
    public long ConnectionErrors => Interlocked.Read(ref _connectionErrors);
    public long BigCommitted => Interlocked.Read(ref _bigCommitted);
    public long BigAborted => Interlocked.Read(ref _bigAborted);
    public long RollbackTos => Interlocked.Read(ref _rollbackTos);
    public long Truncates => Interlocked.Read(ref _truncates);

    /// <summary>A large transaction is open and has rolled back to a savepoint: the moment issue 12's fault needs a kill in.</summary>
    public bool LargeTransactionOpenAfterRollbackTo => Volatile.Read(ref _bigOpenAfterRollbackTo) == 1;

    public void Start()
    {
        for (var i = 0; i < clients; i++)
        {
            var rng = new Random(unchecked(seed * 31 + i));
            _tasks.Add(Task.Run(() => ClientLoopAsync(rng, SmallTransactionAsync, "SET lock_timeout = '2s'")));
        }
        var big = new Random(unchecked(seed * 31 + 1000));
        _tasks.Add(Task.Run(() => ClientLoopAsync(big, LargeTransactionAsync, "SET lock_timeout = '10s'")));
    }

    /// <summary>Ends the writes: each client finishes (or abandons, when interrupted) its transaction.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_tasks);
    }

    private async Task ClientLoopAsync(Random rng, Func<NpgsqlConnection, Random, Task> transaction, string setup)
    {
        NpgsqlConnection? conn = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (conn is null)
                {
                    conn = new NpgsqlConnection(connectionString);
                    await conn.OpenAsync();
                    await ExecAsync(conn, setup);
                }
                await transaction(conn, rng);
            }
            catch (PostgresException ex) when (conn is { State: System.Data.ConnectionState.Open } && !IsFatal(ex))
            {
                // Deadlock, lock timeout, unique violation of a key move, ...: the transaction aborts, as applications' do.
                Interlocked.Increment(ref _aborted);
                try
                {
                    await ExecAsync(conn, "ROLLBACK");
                }
                catch (Exception)
                {
                    await DropAsync();
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException)
            {
                // A server restart or a lost connection: the transaction's fate is the server's; reconnect.
                Interlocked.Increment(ref _connectionErrors);
                await DropAsync();
                await Task.Delay(300 + rng.Next(400));
            }
            Volatile.Write(ref _bigOpenAfterRollbackTo, 0);
        }
        await DropAsync();

        async Task DropAsync()
        {
            if (conn is not null)
            {
                await conn.DisposeAsync();
                conn = null;
            }
        }
    }

    private static bool IsFatal(PostgresException ex) => ex.SqlState.StartsWith("57", StringComparison.Ordinal) || ex.SqlState.StartsWith("08", StringComparison.Ordinal);

    private static async Task ExecAsync(NpgsqlConnection c, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        for (var i = 0; i < args.Length; i++)
        {
            cmd.Parameters.AddWithValue($"p{i}", args[i]);
        }
        await cmd.ExecuteNonQueryAsync();
    }

    private static string Text(Random rng, int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 äöüé€'\"\\,;{}";
        var sb = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            sb.Append(alphabet[rng.Next(alphabet.Length)]);
        }
        return sb.ToString();
    }

    private int MaxAccount => SourceSchema.Accounts(scale) + 2000;

    /// <summary>One short OLTP transaction; about one in ten ends in ROLLBACK.</summary>
    private async Task SmallTransactionAsync(NpgsqlConnection c, Random rng)
    {
        await ExecAsync(c, "BEGIN");
        var steps = 1 + rng.Next(3);
        for (var i = 0; i < steps; i++)
        {
            await SmallStepAsync(c, rng);
        }
        if (rng.NextDouble() < 0.1)
        {
            await ExecAsync(c, "ROLLBACK");
            Interlocked.Increment(ref _aborted);
        }
        else
        {
            await ExecAsync(c, "COMMIT");
            Interlocked.Increment(ref _committed);
        }
        await Task.Delay(rng.Next(20));
    }

    private async Task SmallStepAsync(NpgsqlConnection c, Random rng)
    {
        var pick = rng.Next(100);
        var a = 1 + rng.Next(MaxAccount);
        var b = 1 + rng.Next(MaxAccount);
        switch (pick)
        {
            case < 22:
                var amount = rng.Next(1, 500);
                await ExecAsync(c, """
                    UPDATE accounts SET balance = balance - @p2, updated_at = @p3 WHERE id = @p0;
                    UPDATE accounts SET balance = balance + @p2, updated_at = @p3 WHERE id = @p1;
                    INSERT INTO ledger (from_id, to_id, amount, at, meta, ratio) VALUES (@p0, @p1, @p2, @p3, jsonb_build_object('n', @p4::text), @p5)
                    """, (long)a, (long)b, (long)amount, new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(rng.Next(1_000_000)),
                    Text(rng, 8), rng.NextDouble() * 1000);
                break;
            case < 28:
                await ExecAsync(c, "INSERT INTO accounts (owner, balance, note, flags) VALUES (@p0, @p1, @p2, @p3)",
                    "owner " + rng.Next(2000), (long)rng.Next(100000), Text(rng, rng.Next(0, 200)), new[] { rng.Next(9), rng.Next(9) });
                break;
            case < 32:
                await ExecAsync(c, "DELETE FROM accounts WHERE id = @p0", (long)a);
                break;
            case < 36:
                // TOAST: a small column changes, the large body is left as it is (sent as "unchanged").
                await ExecAsync(c, "UPDATE docs SET title = @p1, version = version + 1 WHERE id = @p0", 1 + rng.Next(SourceSchema.Docs(scale) + 50), Text(rng, 12));
                break;
            case < 39:
                await ExecAsync(c, "UPDATE docs SET body = @p1, blob = @p2 WHERE id = @p0",
                    1 + rng.Next(SourceSchema.Docs(scale) + 50), Text(rng, 2000 + rng.Next(30000)), Encoding.UTF8.GetBytes(Text(rng, 40)));
                break;
            case < 41:
                await ExecAsync(c, "INSERT INTO docs (title, body, tags) VALUES (@p0, @p1, @p2)", Text(rng, 10), Text(rng, 3000 + rng.Next(20000)), new[] { Text(rng, 3) });
                break;
            case < 42:
                await ExecAsync(c, "DELETE FROM docs WHERE id = @p0", 1 + rng.Next(SourceSchema.Docs(scale) + 50));
                break;
            case < 44:
                // The same TOAST pointer written back: an update whose large value is unchanged.
                await ExecAsync(c, "UPDATE docs SET body = body, tags = tags || @p1 WHERE id = @p0", 1 + rng.Next(SourceSchema.Docs(scale) + 50), Text(rng, 2));
                break;
            case < 48:
                var v = rng.Next(300);
                await ExecAsync(c, "INSERT INTO nokey VALUES (@p0, @p1, @p2, jsonb_build_object('a', @p0), @p3), (@p0, @p1, @p2, jsonb_build_object('a', @p0), @p3)",
                    v, "v" + rng.Next(7), (decimal)rng.Next(11), rng.Next(13) / 4.0);
                break;
            case < 52:
                // One of several equal rows changes: the target must change exactly one too.
                await ExecAsync(c, "UPDATE nokey SET c = c + 1, e = e * 2 WHERE ctid = (SELECT ctid FROM nokey WHERE a = @p0 LIMIT 1)", rng.Next(300));
                break;
            case < 55:
                await ExecAsync(c, "DELETE FROM nokey WHERE ctid = (SELECT ctid FROM nokey WHERE a = @p0 LIMIT 1)", rng.Next(300));
                break;
            case < 56:
                await ExecAsync(c, "DELETE FROM nokey WHERE a = @p0 AND b = @p1", rng.Next(300), "v" + rng.Next(7));
                break;
            case < 60:
                // A primary key moves.
                await ExecAsync(c, "UPDATE keyed SET id = @p1 WHERE id = @p0", 1 + rng.Next(SourceSchema.Keyed(scale)), SourceSchema.Keyed(scale) + 1 + rng.Next(1_000_000));
                break;
            case < 63:
                // Two keys swap through a third.
                var x = 1 + rng.Next(SourceSchema.Keyed(scale));
                var y = 1 + rng.Next(SourceSchema.Keyed(scale));
                if (x != y)
                {
                    await ExecAsync(c, """
                        UPDATE keyed SET id = -@p0 WHERE id = @p0;
                        UPDATE keyed SET id = @p0 WHERE id = @p1;
                        UPDATE keyed SET id = @p1 WHERE id = -@p0
                        """, x, y);
                }
                break;
            case < 65:
                await ExecAsync(c, "INSERT INTO keyed VALUES (@p0, @p1, @p2) ON CONFLICT DO NOTHING",
                    SourceSchema.Keyed(scale) + 1 + rng.Next(1_000_000), Text(rng, 16), rng.Next(4) == 0 ? Text(rng, 5000) : DBNull.Value);
                break;
            case < 71:
                await ExecAsync(c, "INSERT INTO events (bucket, payload, at) VALUES (@p0, @p1, @p2)", rng.Next(400), Text(rng, 30),
                    new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc).AddMilliseconds(rng.Next()));
                break;
            case < 75:
                // The partition key changes: the row moves to another partition (a delete and an insert in the stream).
                await ExecAsync(c, "UPDATE events SET bucket = (bucket + @p1) % 400, payload = @p2 WHERE id = @p0",
                    (long)(1 + rng.Next(SourceSchema.Events(scale))), 1 + rng.Next(399), Text(rng, 20));
                break;
            case < 77:
                await ExecAsync(c, "DELETE FROM events WHERE id = @p0", (long)(1 + rng.Next(SourceSchema.Events(scale))));
                break;
            case < 80:
                await ExecAsync(c, $"INSERT INTO {SourceSchema.Odd} VALUES (@p0, @p1, @p2, @p3, jsonb_build_object('ü', @p2)) ON CONFLICT DO NOTHING",
                    rng.Next(3000), "b" + rng.Next(5), Text(rng, 10), (decimal)rng.Next(1000) / 7);
                break;
            case < 82:
                await ExecAsync(c, $"""UPDATE {SourceSchema.Odd} SET "b-key" = "b-key" || 'x', "Mixed Case" = @p1 WHERE "select" = @p0 AND length("b-key") < 6""",
                    rng.Next(3000), Text(rng, 6));
                break;
            case < 83:
                await ExecAsync(c, $"""DELETE FROM {SourceSchema.Odd} WHERE "select" = @p0""", rng.Next(3000));
                break;
            case < 86:
                await ExecAsync(c, "INSERT INTO ident (v) VALUES (@p0)", Text(rng, rng.Next(1, 50)));
                break;
            case < 88:
                await ExecAsync(c, "UPDATE ident SET v = @p1 WHERE id = @p0", 1 + rng.Next(1200), Text(rng, rng.Next(1, 50)));
                break;
            case < 92:
                await ExecAsync(c, "INSERT INTO scratch VALUES (@p0, @p1) ON CONFLICT (id) DO UPDATE SET v = excluded.v", rng.Next(2000), Text(rng, 20));
                break;
            case < 93:
                Interlocked.Increment(ref _truncates);
                await ExecAsync(c, "TRUNCATE scratch; INSERT INTO scratch SELECT g, @p0 || g FROM generate_series(1, @p1) g", Text(rng, 5), rng.Next(1, 300));
                break;
            default:
                // A savepoint inside a short transaction: rolled back or released.
                await ExecAsync(c, "SAVEPOINT small; UPDATE accounts SET note = @p1 WHERE id = @p0", (long)a, Text(rng, 30));
                if (rng.Next(2) == 0)
                {
                    await ExecAsync(c, "ROLLBACK TO SAVEPOINT small");
                    Interlocked.Increment(ref _rollbackTos);
                }
                else
                {
                    await ExecAsync(c, "RELEASE SAVEPOINT small");
                }
                await ExecAsync(c, "UPDATE accounts SET flags = flags || @p1 WHERE id = @p0", (long)b, rng.Next(100));
                break;
        }
    }

    /// <summary>
    /// A transaction far larger than logical_decoding_work_mem, open for seconds, with nested savepoints rolled back to
    /// or released; it commits, or (one in five) aborts. One shape in four is issue 12's: an update, a savepoint, a large
    /// delete rolled back, inserts, commit.
    /// </summary>
    private async Task LargeTransactionAsync(NpgsqlConnection c, Random rng)
    {
        await Task.Delay(300 + rng.Next(2500), _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        var n = SourceSchema.Accounts(scale);
        var tag = rng.Next(1_000_000);
        await ExecAsync(c, "BEGIN");
        if (rng.Next(4) == 0)
        {
            var half = Math.Max(100, n / 3);
            await ExecAsync(c, "UPDATE accounts SET balance = balance + 1, note = md5(coalesce(note, '')) WHERE id <= @p0", (long)half);
            await ExecAsync(c, "SAVEPOINT a");
            await ExecAsync(c, "DELETE FROM accounts WHERE id <= @p0", (long)(half / 2 + rng.Next(half / 2)));
            await PauseAsync(rng);
            await ExecAsync(c, "ROLLBACK TO SAVEPOINT a");
            Interlocked.Increment(ref _rollbackTos);
            Volatile.Write(ref _bigOpenAfterRollbackTo, 1);
            await ExecAsync(c, "INSERT INTO bulk (grp, payload) SELECT @p0, 'sp' || g FROM generate_series(1, @p1) g", tag, 1000 + rng.Next(3000));
            await PauseAsync(rng);
        }
        else
        {
            var open = new List<string>();
            var steps = 3 + rng.Next(6);
            for (var i = 0; i < steps; i++)
            {
                var lo = 1 + rng.Next(n);
                var count = 500 + rng.Next(6000);
                switch (rng.Next(12))
                {
                    case 0 or 1:
                        await ExecAsync(c, "INSERT INTO bulk (grp, payload) SELECT @p0, md5(@p1 || g) FROM generate_series(1, @p2) g", tag, Text(rng, 4), count);
                        break;
                    case 2:
                        await ExecAsync(c, "UPDATE accounts SET balance = balance - 1, note = md5(coalesce(note, '') || @p2) WHERE id BETWEEN @p0 AND @p1", (long)lo, (long)(lo + count), Text(rng, 3));
                        break;
                    case 3:
                        await ExecAsync(c, "DELETE FROM bulk WHERE grp <> @p0 AND id IN (SELECT id FROM bulk ORDER BY id LIMIT @p1)", tag, count);
                        break;
                    case 4:
                        // TOAST values in bulk: new ones, then ones left unchanged by an update of another column.
                        await ExecAsync(c, "UPDATE docs SET body = repeat(md5(@p0 || id), 100 + id % 50), version = version + 1 WHERE id % 5 = @p1", Text(rng, 4), rng.Next(5));
                        await ExecAsync(c, "UPDATE docs SET title = title || '.' WHERE id % 3 = @p0", rng.Next(3));
                        break;
                    case 5:
                        await ExecAsync(c, "UPDATE events SET bucket = (bucket + 100) % 400 WHERE id % 50 = @p0", (long)rng.Next(50));
                        break;
                    case 6:
                        await ExecAsync(c, "INSERT INTO nokey SELECT g % 300, 'big', g % 11, jsonb_build_object('g', g), 0.5 FROM generate_series(1, @p0) g", count / 4);
                        await ExecAsync(c, "DELETE FROM nokey WHERE a = @p0", rng.Next(300));
                        break;
                    case 7:
                        await ExecAsync(c, "UPDATE keyed SET id = id + 2000000 WHERE id BETWEEN @p0 AND @p1", rng.Next(SourceSchema.Keyed(scale)), rng.Next(SourceSchema.Keyed(scale)));
                        break;
                    case 8:
                        var name = $"s{i}";
                        await ExecAsync(c, $"SAVEPOINT {name}");
                        open.Add(name);
                        break;
                    case 9 when open.Count > 0:
                        var back = rng.Next(open.Count);
                        await ExecAsync(c, $"ROLLBACK TO SAVEPOINT {open[back]}");
                        open.RemoveRange(back + 1, open.Count - back - 1);
                        Interlocked.Increment(ref _rollbackTos);
                        Volatile.Write(ref _bigOpenAfterRollbackTo, 1);
                        break;
                    case 10 when open.Count > 0:
                        var release = rng.Next(open.Count);
                        await ExecAsync(c, $"RELEASE SAVEPOINT {open[release]}");
                        open.RemoveRange(release, open.Count - release);
                        break;
                    case 11 when rng.Next(3) == 0:
                        // TRUNCATE inside a savepoint that may later be rolled back.
                        await ExecAsync(c, $"SAVEPOINT t{i}; TRUNCATE scratch; INSERT INTO scratch SELECT g, 'big' || g FROM generate_series(1, 50) g");
                        open.Add($"t{i}");
                        Interlocked.Increment(ref _truncates);
                        break;
                    default:
                        await PauseAsync(rng);
                        break;
                }
            }
            if (open.Count > 0 && rng.Next(2) == 0)
            {
                await ExecAsync(c, $"ROLLBACK TO SAVEPOINT {open[0]}");
                Interlocked.Increment(ref _rollbackTos);
                Volatile.Write(ref _bigOpenAfterRollbackTo, 1);
                await ExecAsync(c, "INSERT INTO bulk (grp, payload) SELECT @p0, 'after' || g FROM generate_series(1, 2000) g", tag);
                await PauseAsync(rng);
            }
        }
        if (rng.Next(5) == 0)
        {
            await ExecAsync(c, "ROLLBACK");
            Interlocked.Increment(ref _bigAborted);
        }
        else
        {
            await ExecAsync(c, "COMMIT");
            Interlocked.Increment(ref _bigCommitted);
        }
        Volatile.Write(ref _bigOpenAfterRollbackTo, 0);
    }

    /// <summary>Keeps the transaction open a while (shorter once the writes are stopping).</summary>
    private async Task PauseAsync(Random rng)
    {
        var ms = 100 + rng.Next(1500);
        if (!_stop.IsCancellationRequested)
        {
            await Task.Delay(ms, _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"{Committed} small transactions committed, {Aborted} aborted; {BigCommitted} large committed, {BigAborted} large aborted; {RollbackTos} rollbacks to a savepoint; {Truncates} truncates; {ConnectionErrors} lost connections");
}
