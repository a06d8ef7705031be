namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>
/// A text of what a database holds (objects, its slots, publications, extensions) to show that something changed nothing.
/// Cluster-wide state (roles, other databases' slots) is left out: tests running at the same time change it.
/// </summary>
public static class CatalogFingerprint
{
    private const string Query = """
        SELECT concat_ws(E'\n',
          (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || c.relreplident::text, ',' ORDER BY n.nspname, c.relname)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')),
          (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
          (SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots WHERE database = current_database()),
          (SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication),
          (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension),
          (SELECT count(*)::text FROM pg_proc))
        """;

    public static Task<string?> TakeAsync(TestServer server, string database) => server.ScalarAsync<string>(database, Query);
}
