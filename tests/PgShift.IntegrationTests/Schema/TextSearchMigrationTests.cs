using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.Schema;

/// <summary>
/// Text search parsers, templates, dictionaries and configurations migrate as pg_dump writes them, with their
/// comments, before the columns and indexes that name a configuration; one whose function cannot be created is left out.
/// </summary>
public sealed class TextSearchMigrationTests
{
    public static TheoryData<string, string> Pairs => new() { { "15", "15" }, { "15", "17" }, { "12", "17" } };

    private static TestServer Server(string version) => version switch { "12" => TestServer.Pg12, "15" => TestServer.Pg15, _ => TestServer.Pg17 };

    private const string TextSearchCatalog = """
        SELECT 'parser ' || prsname || ' ' || prsstart::regproc || ' ' || prstoken::regproc || ' ' || prsend::regproc || ' '
               || prsheadline::regproc || ' ' || prslextype::regproc || ' ' || coalesce(obj_description(oid, 'pg_ts_parser'), '-')
          FROM pg_ts_parser WHERE prsnamespace::regnamespace::text = 'tsx'
        UNION ALL
        SELECT 'template ' || tmplname || ' ' || tmplinit::regproc || ' ' || tmpllexize::regproc || ' ' || coalesce(obj_description(oid, 'pg_ts_template'), '-')
          FROM pg_ts_template WHERE tmplnamespace::regnamespace::text = 'tsx'
        UNION ALL
        SELECT 'dictionary ' || d.dictname || ' ' || t.tmplnamespace::regnamespace || '.' || t.tmplname || ' ' || coalesce(d.dictinitoption, '-')
               || ' ' || coalesce(obj_description(d.oid, 'pg_ts_dict'), '-')
          FROM pg_ts_dict d JOIN pg_ts_template t ON t.oid = d.dicttemplate WHERE d.dictnamespace::regnamespace::text = 'tsx'
        UNION ALL
        SELECT 'configuration ' || c.cfgname || ' ' || p.prsnamespace::regnamespace || '.' || p.prsname || ' ' || coalesce(obj_description(c.oid, 'pg_ts_config'), '-')
          FROM pg_ts_config c JOIN pg_ts_parser p ON p.oid = c.cfgparser WHERE c.cfgnamespace::regnamespace::text = 'tsx'
        UNION ALL
        SELECT 'mapping ' || c.cfgname || ' ' || m.maptokentype || ' ' || m.mapseqno || ' ' || m.mapdict::regdictionary
          FROM pg_ts_config_map m JOIN pg_ts_config c ON c.oid = m.mapcfg WHERE c.cfgnamespace::regnamespace::text = 'tsx'
        ORDER BY 1
        """;

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Text_search_objects_migrate_and_parse_as_on_the_source(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA tsx;
            CREATE TEXT SEARCH PARSER tsx.prs (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype, HEADLINE = prsd_headline);
            CREATE TEXT SEARCH TEMPLATE tsx.simple_tmpl (INIT = dsimple_init, LEXIZE = dsimple_lexize);
            CREATE TEXT SEARCH TEMPLATE tsx.no_init (LEXIZE = dsimple_lexize);
            CREATE TEXT SEARCH DICTIONARY tsx.stop_simple (TEMPLATE = tsx.simple_tmpl, STOPWORDS = english);
            CREATE TEXT SEARCH DICTIONARY tsx.syn (TEMPLATE = synonym, SYNONYMS = synonym_sample, CASESENSITIVE = off);
            CREATE TEXT SEARCH CONFIGURATION tsx.conf (PARSER = tsx.prs);
            ALTER TEXT SEARCH CONFIGURATION tsx.conf ADD MAPPING FOR asciiword, word WITH tsx.syn, tsx.stop_simple;
            ALTER TEXT SEARCH CONFIGURATION tsx.conf ADD MAPPING FOR uint WITH simple;
            CREATE TEXT SEARCH CONFIGURATION tsx.copied (COPY = english);
            COMMENT ON TEXT SEARCH PARSER tsx.prs IS 'a parser';
            COMMENT ON TEXT SEARCH TEMPLATE tsx.simple_tmpl IS 'a template';
            COMMENT ON TEXT SEARCH DICTIONARY tsx.syn IS 'a dictionary';
            COMMENT ON TEXT SEARCH CONFIGURATION tsx.conf IS 'it''s a configuration';
            -- Named by a column's generation and an index: both come after the configuration.
            CREATE TABLE tsx.docs (id int PRIMARY KEY, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('tsx.conf'::regconfig, body)) STORED);
            CREATE INDEX docs_fts ON tsx.docs USING gin (to_tsvector('tsx.copied'::regconfig, body));
            INSERT INTO tsx.docs (id, body) VALUES (1, 'The Postgres indices are quick 42'), (2, 'Gogle and the rest');
            """);
        var migrate = await PgShiftProcess.RunAsync(["migrate", "--types", "schema,full", "--task", "tsx",
            "--source", dbs.Source.KeywordValue(dbs.SourceDb), "--target", dbs.Target.KeywordValue(dbs.TargetDb)], timeout: TimeSpan.FromMinutes(3));
        Assert.True(migrate.ExitCode == 0, migrate.All);

        var source = await dbs.SourceRowsAsync(TextSearchCatalog);
        Assert.Contains("configuration conf tsx.prs it's a configuration", source);
        Assert.Contains("dictionary syn pg_catalog.synonym synonyms = 'synonym_sample', casesensitive = 'off' a dictionary", source);
        Assert.Equal(source, await dbs.TargetRowsAsync(TextSearchCatalog));

        const string parsed = """
            SELECT to_tsvector('tsx.conf', 'The Postgres indices are quick 42')::text
            UNION ALL SELECT to_tsvector('tsx.copied', 'The Postgres indices are quick 42')::text
            UNION ALL SELECT ts_headline('tsx.conf', 'The Postgres indices are quick', to_tsquery('tsx.conf', 'indices'))
            UNION ALL SELECT id || ' ' || tsv::text FROM (SELECT * FROM tsx.docs ORDER BY id) d
            UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'tsx' AND indexname = 'docs_fts'
            """;
        var sourceParsed = await dbs.SourceRowsAsync(parsed);
        Assert.Contains("'42':6 'index':3 'pgsql':2 'quick':5", sourceParsed);
        Assert.Equal(sourceParsed, await dbs.TargetRowsAsync(parsed));
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task A_parser_whose_function_cannot_be_created_is_left_out_with_its_configuration(string from, string to)
    {
        await using var dbs = await MigrationDatabases.CreateAsync(Server(from), Server(to), loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA tsx;
            CREATE FUNCTION tsx.my_start(internal, integer) RETURNS internal AS '$libdir/plpgsql', 'plpgsql_validator' LANGUAGE C STRICT;
            CREATE TEXT SEARCH PARSER tsx.own (START = tsx.my_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
            CREATE TEXT SEARCH CONFIGURATION tsx.own_conf (PARSER = tsx.own);
            ALTER TEXT SEARCH CONFIGURATION tsx.own_conf ADD MAPPING FOR asciiword WITH simple;
            CREATE TEXT SEARCH CONFIGURATION tsx.kept (PARSER = default);
            ALTER TEXT SEARCH CONFIGURATION tsx.kept ADD MAPPING FOR asciiword WITH simple;
            """);
        var (pre, _) = await MigrationDatabases.MigrateAsync(dbs.Options());

        Assert.Contains(pre.Skipped, s => s.Object == "function tsx.my_start(internal,integer)" && s.Reason.Contains("written in C", StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object == "text search parser \"tsx\".\"own\"" && s.Reason.Contains("tsx.my_start", StringComparison.Ordinal));
        Assert.Contains(pre.Skipped, s => s.Object == "text search configuration \"tsx\".\"own_conf\"");
        Assert.Equal(["configuration kept pg_catalog.default -", "mapping kept 1 1 simple"], await dbs.TargetRowsAsync(TextSearchCatalog));
    }

    [Fact]
    public async Task Text_search_objects_move_with_their_schema_when_it_is_renamed()
    {
        await using var dbs = await MigrationDatabases.CreateAsync(TestServer.Pg15, TestServer.Pg17, loadFixture: false);
        await dbs.Source.ExecuteAsync(dbs.SourceDb, """
            CREATE SCHEMA tsx;
            CREATE TEXT SEARCH TEMPLATE tsx.simple_tmpl (INIT = dsimple_init, LEXIZE = dsimple_lexize);
            CREATE TEXT SEARCH DICTIONARY tsx.stop_simple (TEMPLATE = tsx.simple_tmpl, STOPWORDS = english);
            CREATE TEXT SEARCH CONFIGURATION tsx.conf (PARSER = default);
            ALTER TEXT SEARCH CONFIGURATION tsx.conf ADD MAPPING FOR asciiword WITH tsx.stop_simple;
            CREATE TABLE tsx.docs (id int PRIMARY KEY, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('tsx.conf'::regconfig, body)) STORED);
            INSERT INTO tsx.docs (id, body) VALUES (1, 'The quick fox');
            """);
        await MigrationDatabases.MigrateAsync(dbs.Options(o => o.Mapping.Schemas["tsx"] = "tsy"));

        Assert.Equal(["tsy.conf tsy.stop_simple tsy.simple_tmpl"], await dbs.TargetRowsAsync("""
            SELECT c.oid::regconfig || ' ' || m.mapdict::regdictionary || ' ' || t.tmplnamespace::regnamespace || '.' || t.tmplname
              FROM pg_ts_config c JOIN pg_ts_config_map m ON m.mapcfg = c.oid JOIN pg_ts_dict d ON d.oid = m.mapdict JOIN pg_ts_template t ON t.oid = d.dicttemplate
             WHERE c.cfgnamespace = 'tsy'::regnamespace
            """));
        Assert.Equal(["'fox':3 'quick':2"], await dbs.TargetRowsAsync("SELECT to_tsvector('tsy.conf', 'The quick fox')::text"));
        await dbs.Target.ExecuteAsync(dbs.TargetDb, "INSERT INTO tsy.docs (id, body) VALUES (2, 'The slow fox')");
        Assert.Equal(["2 'fox':3 'slow':2"], await dbs.TargetRowsAsync("SELECT id || ' ' || tsv::text FROM tsy.docs WHERE id = 2"));
    }
}
