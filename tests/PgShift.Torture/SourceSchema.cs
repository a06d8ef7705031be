using System.Globalization;
using System.Text;
using Npgsql;

namespace PgShift.Torture;

/// <summary>
/// The source database of a round: tables of every kind the stream must carry (keys, no key with REPLICA IDENTITY
/// FULL, TOASTed values, partitions with row movement, identity and generated columns, odd identifiers), enough
/// other objects that the schema phases last long enough to be killed in, and seeded initial data.
/// </summary>
public static class SourceSchema
{
    public const string OddSchema = "Odd \"Schema\"";
    public const string OddTable = "Ödd \"Tablé\" 1";
    public static readonly string Odd = $"{Q(OddSchema)}.{Q(OddTable)}";

    public static string Q(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static int Accounts(double scale) => (int)(60_000 * scale);
    public static int Docs(double scale) => (int)(200 * scale) + 10;
    public static int Keyed(double scale) => (int)(5_000 * scale) + 10;
    public static int Events(double scale) => (int)(30_000 * scale) + 10;

    public static async Task CreateAsync(NpgsqlConnection c, int seed, double scale, CancellationToken ct)
    {
        var s = seed.ToString(CultureInfo.InvariantCulture);
        var ddl = new StringBuilder($$"""
            CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL, note text,
                flags int[], updated_at timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00');
            CREATE INDEX accounts_owner ON accounts (owner);
            CREATE INDEX accounts_balance ON accounts (balance, id);
            CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id bigint, to_id bigint, amount numeric(14,2) NOT NULL,
                at timestamptz NOT NULL, meta jsonb, ratio float8);
            CREATE INDEX ledger_from ON ledger (from_id);
            CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, body text, version int NOT NULL DEFAULT 1,
                tags text[], blob bytea);
            CREATE TABLE nokey (a int, b text, c numeric, d jsonb, e float8);
            ALTER TABLE nokey REPLICA IDENTITY FULL;
            CREATE TABLE keyed (id int PRIMARY KEY, v text NOT NULL, big text);
            CREATE UNIQUE INDEX keyed_v ON keyed (v);
            CREATE SEQUENCE events_id_seq;
            CREATE TABLE events (id bigint NOT NULL DEFAULT nextval('events_id_seq'), bucket int NOT NULL, payload text,
                at timestamptz NOT NULL, PRIMARY KEY (id, bucket)) PARTITION BY RANGE (bucket);
            CREATE TABLE events_p0 PARTITION OF events FOR VALUES FROM (0) TO (100);
            CREATE TABLE events_p1 PARTITION OF events FOR VALUES FROM (100) TO (200);
            CREATE TABLE events_p2 PARTITION OF events FOR VALUES FROM (200) TO (300);
            CREATE TABLE events_rest PARTITION OF events DEFAULT;
            CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text NOT NULL,
                len int GENERATED ALWAYS AS (length(v)) STORED);
            CREATE TABLE scratch (id int PRIMARY KEY, v text);
            CREATE TABLE bulk (id bigserial PRIMARY KEY, grp int NOT NULL, payload text);
            CREATE INDEX bulk_grp ON bulk (grp);
            CREATE SCHEMA {{Q(OddSchema)}};
            CREATE TABLE {{Odd}} ("select" int NOT NULL, "b-key" text NOT NULL, "Mixed Case" text, "with space" numeric,
                "ünï" jsonb, PRIMARY KEY ("select", "b-key"));
            CREATE INDEX {{Q("Idx Mixed")}} ON {{Odd}} ("Mixed Case");
            """);
        // Objects that make the schema phases long enough to be killed in.
        for (var i = 1; i <= 20; i++)
        {
            ddl.Append(CultureInfo.InvariantCulture, $"""

                CREATE TABLE filler_{i} (id int PRIMARY KEY, v text, n int);
                CREATE INDEX filler_{i}_n ON filler_{i} (n);
                CREATE VIEW filler_view_{i} AS SELECT id, v FROM filler_{i} WHERE n > {i};
                CREATE FUNCTION filler_fn_{i}(x int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN x + {i}; END$$;
                """);
        }
        await ExecAsync(c, ddl.ToString(), ct);

        var n = Accounts(scale);
        await ExecAsync(c, $"""
            INSERT INTO accounts (owner, balance, note, flags)
              SELECT 'owner ' || (g % 997), (g * 7919) % 100000, md5('{s}a' || g) || md5('{s}b' || g) || md5('{s}c' || g),
                     ARRAY[g % 3, g % 5] FROM generate_series(1, {n}) g;
            INSERT INTO ledger (from_id, to_id, amount, at, meta, ratio)
              SELECT g, g + 1, (g % 1000) / 7.0, '2026-01-01'::timestamptz + g * interval '1 minute',
                     jsonb_build_object('k', g, 's', md5('{s}' || g)), g / 3.0 FROM generate_series(1, {n / 4}) g;
            INSERT INTO docs (title, body, tags, blob)
              SELECT 'doc ' || g, (SELECT string_agg(md5('{s}' || g || ':' || k), '') FROM generate_series(1, 60 + (g * 37) % 700) k),
                     ARRAY['t' || (g % 4), 'u'], decode(md5('{s}' || g), 'hex') FROM generate_series(1, {Docs(scale)}) g;
            INSERT INTO nokey SELECT g % 300, 'v' || (g % 7), g % 11, jsonb_build_object('a', g % 5), (g % 13) / 4.0
              FROM generate_series(1, {(int)(3000 * scale) + 10}) g;
            INSERT INTO keyed SELECT g, 'k' || g, CASE WHEN g % 10 = 0 THEN repeat(md5('{s}' || g), 100) END FROM generate_series(1, {Keyed(scale)}) g;
            INSERT INTO events (bucket, payload, at) SELECT g % 400, md5('{s}' || g), '2026-01-01'::timestamptz + g * interval '1 second'
              FROM generate_series(1, {Events(scale)}) g;
            INSERT INTO ident (v) SELECT md5('{s}' || g) FROM generate_series(1, 1000) g;
            INSERT INTO scratch SELECT g, 's' || g FROM generate_series(1, 500) g;
            INSERT INTO {Odd} SELECT g, 'b' || (g % 3), 'MC ' || g, g / 9.0, jsonb_build_object('ü', g) FROM generate_series(1, 1000) g;
            """, ct);
        var fill = new StringBuilder();
        for (var i = 1; i <= 20; i++)
        {
            fill.Append(CultureInfo.InvariantCulture, $"INSERT INTO filler_{i} SELECT g, md5('{s}' || g), g % 50 FROM generate_series(1, 200) g;\n");
        }
        await ExecAsync(c, fill.ToString(), ct);
        await ExecAsync(c, "ANALYZE", ct);
    }

    public static async Task ExecAsync(NpgsqlConnection c, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
