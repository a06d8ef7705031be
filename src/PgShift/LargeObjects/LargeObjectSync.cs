using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgShift.Connections;
using PgShift.Replication;

namespace PgShift.LargeObjects;

/// <summary>A pass over the large objects: both servers, the source snapshot to read from, parallel workers, and the counters it updates.</summary>
public sealed record LargeObjectPass(ConnectionSpec Source, ConnectionSpec Target, string SnapshotName, int Jobs, LargeObjectProgress Progress);

/// <summary>What a pass did: objects created, replaced (content differed), unlinked, given a new owner, privileges or comment; bytes written.</summary>
public sealed record LargeObjectOutcome(int SourceCount, int Created, int Replaced, int Unlinked, int MetadataChanged, int AlreadyPresent, long Bytes,
    double Seconds, IReadOnlyList<string> Warnings);

/// <summary>
/// Copies the source's large objects to the target with the same OIDs, from one snapshot, by parallel workers; each
/// target transaction holds whole objects (up to <see cref="BatchObjects"/> of them, or one large one), so an object on
/// the target is always complete. <see cref="CopyAsync"/> creates the objects the target lacks (a rerun skips those it
/// holds); <see cref="SynchroniseAsync"/> also compares the others (size, then digest; owner, privileges, comment),
/// replaces or corrects what differs, and unlinks what the source no longer has. Memory: one chunk per worker, and the
/// two lists of objects (OIDs and metadata, not content).
/// </summary>
public sealed class LargeObjectSync(ILogger logger)
{
    private const int BatchObjects = 100;
    private const long BatchBytes = 16L * 1024 * 1024;

    private enum WorkKind
    {
        Create,
        Compare,
    }

    private sealed record Work(LargeObject Source, LargeObject? Target, WorkKind WorkKind);

    private sealed class Counters
    {
        public int Created;
        public int Replaced;
        public int MetadataChanged;
        public long Bytes;
    }

    public Task<LargeObjectOutcome> CopyAsync(LargeObjectPass pass, CancellationToken ct) => RunAsync(pass, synchronise: false, ct);

    public Task<LargeObjectOutcome> SynchroniseAsync(LargeObjectPass pass, CancellationToken ct) => RunAsync(pass, synchronise: true, ct);

    private async Task<LargeObjectOutcome> RunAsync(LargeObjectPass pass, bool synchronise, CancellationToken ct)
    {
        List<LargeObject> sourceObjects;
        await using (var source = await ConnectionOpener.OpenAsync(pass.Source, "pgshift large objects", ct))
        {
            await ExportedSnapshot.ImportAsync(source, pass.SnapshotName, ct);
            sourceObjects = await LargeObjectCatalog.ListAsync(source, "source", ct);
        }
        Dictionary<uint, LargeObject> targetObjects;
        TargetRoles roles;
        await using (var target = await ConnectionOpener.OpenAsync(pass.Target, "pgshift large objects", ct))
        {
            targetObjects = (await LargeObjectCatalog.ListAsync(target, "target", ct)).ToDictionary(o => o.Oid);
            var (names, me) = await LargeObjectCatalog.RolesAsync(target, ct);
            roles = new TargetRoles(names, me);
        }
        var work = sourceObjects
            .Select(o => targetObjects.TryGetValue(o.Oid, out var t) ? new Work(o, t, WorkKind.Compare) : new Work(o, null, WorkKind.Create))
            .Where(w => synchronise || w.WorkKind == WorkKind.Create).ToList();
        var sourceOids = sourceObjects.Select(o => o.Oid).ToHashSet();
        var extra = synchronise ? targetObjects.Keys.Where(oid => !sourceOids.Contains(oid)).Order().ToList() : [];
        pass.Progress.Begin(work.Count + extra.Count, work.Sum(w => w.Source.Size));
        logger.LogInformation("Large objects: {Objects} on the source, {ToDo} to {Verb}, {Extra} to unlink", sourceObjects.Count, work.Count,
            synchronise ? "compare or copy" : "copy", extra.Count);

        var counters = new Counters();
        await UnlinkAsync(pass, extra, ct);
        await RunWorkersAsync(pass, Batches(work), roles, counters, ct);
        pass.Progress.Finish();
        var outcome = new LargeObjectOutcome(sourceObjects.Count, counters.Created, counters.Replaced, extra.Count, counters.MetadataChanged,
            sourceObjects.Count - work.Count, counters.Bytes, pass.Progress.Seconds, roles.Warnings());
        logger.LogInformation("Large objects: {Created} created, {Replaced} replaced, {Unlinked} unlinked, {Metadata} given their owner, privileges or comment; " +
            "{MB:0.0} MB written in {Seconds:0.0} s", outcome.Created, outcome.Replaced, outcome.Unlinked, outcome.MetadataChanged, outcome.Bytes / 1048576.0, outcome.Seconds);
        return outcome;
    }

    /// <summary>Consecutive objects grouped into target transactions of at most <see cref="BatchObjects"/> objects and about <see cref="BatchBytes"/>.</summary>
    private static List<List<Work>> Batches(List<Work> work)
    {
        var batches = new List<List<Work>>();
        List<Work>? batch = null;
        long bytes = 0;
        foreach (var w in work)
        {
            if (batch is null || batch.Count >= BatchObjects || bytes + w.Source.Size > BatchBytes && batch.Count > 0)
            {
                batches.Add(batch = []);
                bytes = 0;
            }
            batch.Add(w);
            bytes += w.Source.Size;
        }
        return batches;
    }

    private static async Task UnlinkAsync(LargeObjectPass pass, List<uint> oids, CancellationToken ct)
    {
        if (oids.Count == 0)
        {
            return;
        }
        await using var target = await ConnectionOpener.OpenAsync(pass.Target, "pgshift large objects", ct);
        foreach (var chunk in oids.Chunk(1000))
        {
            await using var cmd = new NpgsqlCommand("SELECT count(lo_unlink(o)) FROM unnest(@oids) o", target);
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlDbType.Array | NpgsqlDbType.Oid) { Value = chunk });
            await cmd.ExecuteNonQueryAsync(ct);
            pass.Progress.AddObjects(chunk.Length);
        }
    }

    private async Task RunWorkersAsync(LargeObjectPass pass, List<List<Work>> batches, TargetRoles roles, Counters counters, CancellationToken ct)
    {
        var pool = new ConcurrentBag<WorkerSessions>();
        var running = Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, pass.Jobs), CancellationToken = ct },
            async (batch, c) =>
            {
                var sessions = pool.TryTake(out var free) ? free : new WorkerSessions();
                try
                {
                    if (sessions.Source is null)
                    {
                        sessions.Source = await ConnectionOpener.OpenAsync(pass.Source, "pgshift large objects", c);
                        await ExportedSnapshot.ImportAsync(sessions.Source, pass.SnapshotName, c);
                    }
                    sessions.Target ??= await ConnectionOpener.OpenAsync(pass.Target, "pgshift large objects", c);
                    await RunBatchAsync(pass, batch, sessions.Source, sessions.Target, roles, counters, c);
                }
                catch
                {
                    await sessions.DisposeAsync();
                    throw;
                }
                finally
                {
                    pool.Add(sessions);
                }
            });
        try
        {
            await ParallelWork.WhenDoneAsync(running);
        }
        finally
        {
            foreach (var sessions in pool)
            {
                await sessions.DisposeAsync();
            }
        }
    }

    /// <summary>One target transaction: each object created, or compared and replaced or corrected.</summary>
    private static async Task RunBatchAsync(LargeObjectPass pass, List<Work> batch, NpgsqlConnection source, NpgsqlConnection target, TargetRoles roles,
        Counters counters, CancellationToken ct)
    {
        var writer = new LargeObjectWriter(source, target, pass.Progress);
        await using var tx = await target.BeginTransactionAsync(ct);
        int created = 0, replaced = 0, corrected = 0;
        long bytes = 0;
        foreach (var w in batch)
        {
            var desired = roles.Desired(w.Source);
            if (w.Target is not { } current)
            {
                bytes += await writer.CreateAsync(desired, replace: false, roles.CurrentUser, tx, ct);
                created++;
            }
            else if (!await SameContentAsync(source, target, w.Source, current, ct))
            {
                bytes += await writer.CreateAsync(desired, replace: true, roles.CurrentUser, tx, ct);
                replaced++;
            }
            else
            {
                pass.Progress.AddBytes(w.Source.Size);
                corrected += await writer.ApplyMetadataAsync(desired, current, tx, ct) ? 1 : 0;
            }
        }
        await tx.CommitAsync(ct);
        pass.Progress.AddObjects(batch.Count);
        Interlocked.Add(ref counters.Created, created);
        Interlocked.Add(ref counters.Replaced, replaced);
        Interlocked.Add(ref counters.MetadataChanged, corrected);
        Interlocked.Add(ref counters.Bytes, bytes);
    }

    /// <summary>Same size and same digest, each side computing its own (nothing but the digests travels).</summary>
    private static async Task<bool> SameContentAsync(NpgsqlConnection source, NpgsqlConnection target, LargeObject a, LargeObject b, CancellationToken ct)
    {
        if (a.Size != b.Size)
        {
            return false;
        }
        var digests = await Task.WhenAll(LargeObjectCatalog.DigestAsync(source, a.Oid, a.Size, ct), LargeObjectCatalog.DigestAsync(target, b.Oid, b.Size, ct));
        return digests[0] == digests[1];
    }
}
