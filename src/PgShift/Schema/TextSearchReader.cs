using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Text search parsers, templates, dictionaries and configurations, as pg_dump writes them (dumpTSParser, dumpTSTemplate,
/// dumpTSDictionary, dumpTSConfig). Their functions are named as the source's catalog has them: built-in ones exist on the
/// target, a user one is created first, and one that cannot be (written in C) leaves the object out with it.
/// </summary>
internal sealed class TextSearchReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : AddressedObjectReader(conn, options, read)
{
    public async Task ReadAsync(CancellationToken ct)
    {
        await ReadParsersAsync(ct);
        await ReadTemplatesAsync(ct);
        await ReadDictionariesAsync(ct);
        await ReadConfigurationsAsync(ct);
    }

    private async Task ReadParsersAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT p.oid, n.nspname, p.prsname, p.prsstart::regproc::text, p.prstoken::regproc::text, p.prsend::regproc::text,
                   p.prslextype::regproc::text, CASE WHEN p.prsheadline <> 0 THEN p.prsheadline::regproc::text END
            FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = AddAddressed("pg_ts_parser", oid, "tsparser", ObjectKind.TextSearchParser, r.GetString(1), r.GetString(2), $"TEXT SEARCH PARSER {name}");
            var headline = r.IsDBNull(7) ? "" : $", HEADLINE = {r.GetString(7)}";
            o.Statements.Add($"CREATE TEXT SEARCH PARSER {name} (START = {r.GetString(3)}, GETTOKEN = {r.GetString(4)}, END = {r.GetString(5)}, LEXTYPES = {r.GetString(6)}{headline})");
        }, ct);
    }

    private async Task ReadTemplatesAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT t.oid, n.nspname, t.tmplname, CASE WHEN t.tmplinit <> 0 THEN t.tmplinit::regproc::text END, t.tmpllexize::regproc::text
            FROM pg_ts_template t JOIN pg_namespace n ON n.oid = t.tmplnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = AddAddressed("pg_ts_template", oid, "tstemplate", ObjectKind.TextSearchTemplate, r.GetString(1), r.GetString(2), $"TEXT SEARCH TEMPLATE {name}");
            var init = r.IsDBNull(3) ? "" : $"INIT = {r.GetString(3)}, ";
            o.Statements.Add($"CREATE TEXT SEARCH TEMPLATE {name} ({init}LEXIZE = {r.GetString(4)})");
        }, ct);
    }

    private async Task ReadDictionariesAsync(CancellationToken ct)
    {
        // dictinitoption is already the option list as CREATE writes it (name = 'value', ...), as pg_dump takes it.
        await QueryAsync($"""
            SELECT d.oid, n.nspname, d.dictname, tn.nspname, t.tmplname, d.dictinitoption
            FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
            JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = t.tmplnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = AddAddressed("pg_ts_dict", oid, "tsdict", ObjectKind.TextSearchDictionary, r.GetString(1), r.GetString(2), $"TEXT SEARCH DICTIONARY {name}");
            var initOptions = r.IsDBNull(5) ? "" : $", {r.GetString(5)}";
            o.Statements.Add($"CREATE TEXT SEARCH DICTIONARY {name} (TEMPLATE = {Sql.Qualified(r.GetString(3), r.GetString(4))}{initOptions})");
        }, ct);
    }

    private async Task ReadConfigurationsAsync(CancellationToken ct)
    {
        await QueryAsync($"""
            SELECT c.oid, n.nspname, c.cfgname, pn.nspname, p.prsname
            FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
            JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace pn ON pn.oid = p.prsnamespace
            WHERE {UserSchemas}
            """, r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (!Migrates(oid, r.GetString(1)))
            {
                return;
            }
            var name = Sql.Qualified(r.GetString(1), r.GetString(2));
            var o = AddAddressed("pg_ts_config", oid, "tsconfig", ObjectKind.TextSearchConfiguration, r.GetString(1), r.GetString(2), $"TEXT SEARCH CONFIGURATION {name}");
            o.Statements.Add($"CREATE TEXT SEARCH CONFIGURATION {name} (PARSER = {Sql.Qualified(r.GetString(3), r.GetString(4))})");
        }, ct);
        // The mapping: for each token type (named by the parser's ts_token_type), its dictionaries in order.
        var mapping = new Dictionary<(uint Config, string Token), List<string>>();
        var tokens = new List<(uint Config, string Token)>();
        await QueryAsync($"""
            SELECT m.mapcfg, t.alias, dn.nspname, d.dictname
            FROM pg_ts_config_map m JOIN pg_ts_config c ON c.oid = m.mapcfg JOIN pg_namespace n ON n.oid = c.cfgnamespace
            JOIN pg_ts_dict d ON d.oid = m.mapdict JOIN pg_namespace dn ON dn.oid = d.dictnamespace
            CROSS JOIN LATERAL ts_token_type(c.cfgparser) t
            WHERE t.tokid = m.maptokentype AND {UserSchemas}
            ORDER BY m.mapcfg, m.maptokentype, m.mapseqno
            """, r =>
        {
            var token = (r.GetFieldValue<uint>(0), r.GetString(1));
            if (!mapping.ContainsKey(token))
            {
                tokens.Add(token);
            }
            Append(mapping, token, Sql.Qualified(r.GetString(2), r.GetString(3)));
        }, ct);
        foreach (var (config, token) in tokens)
        {
            if (Objects.TryGetValue($"tsconfig:{config}", out var o))
            {
                o.Statements.Add($"ALTER {o.AlterTarget} ADD MAPPING FOR {Sql.Ident(token)} WITH {string.Join(", ", mapping[(config, token)])}");
            }
        }
    }
}
