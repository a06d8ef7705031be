namespace PgShift.IntegrationTests.Infrastructure;

/// <summary>A text of what a database holds (objects, slots, publications, roles) to show that something changed nothing.</summary>
public static class CatalogFingerprint
{
    private const string Query = """
        SELECT concat_ws(E'\n',
          (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || c.relreplident::text, ',' ORDER BY n.nspname, c.relname)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')),
          (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
          (SELECT string_agg(slot_name || ':' || coalesce(database, ''), ',' ORDER BY slot_name) FROM pg_replication_slots),
          (SELECT string_agg(pubname, ',' ORDER BY pubname) FROM pg_publication),
          (SELECT string_agg(rolname || ':' || rolreplication::text, ',' ORDER BY rolname) FROM pg_roles),
          (SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension),
          (SELECT count(*)::text FROM pg_proc))
        """;

    public static Task<string?> TakeAsync(TestServer server, string database) => server.ScalarAsync<string>(database, Query);
}
