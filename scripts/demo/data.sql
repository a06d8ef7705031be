-- The demo's data on top of the rich schema fixture: a large table, TOASTed values, a table without a key.
CREATE TABLE public.page_views (id bigserial PRIMARY KEY, url text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
                                ms int, referrer text, payload jsonb);
INSERT INTO public.page_views (url, at, ms, referrer, payload)
SELECT '/p/' || (g % 5000), timestamptz '2024-01-01' + g * interval '1 second', g % 900,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'https://example.com/' || g END, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b'))
FROM generate_series(1, :rows) g;
CREATE TABLE public.documents (id int PRIMARY KEY, title text, body text, blob bytea);
INSERT INTO public.documents
SELECT g, 'doc ' || g, repeat(md5(g::text), 400 + g % 200), decode(repeat(md5((g * 7)::text), 300), 'hex') FROM generate_series(1, :docs) g;
CREATE TABLE public.metrics (name text, value double precision, at timestamptz);
ALTER TABLE public.metrics REPLICA IDENTITY FULL;
INSERT INTO public.metrics SELECT 'cpu', (g % 100) / 3.0, now() FROM generate_series(1, 2000) g;
-- The fixture's tables without a key (one inherits its columns but not its parent's key): REPLICA IDENTITY FULL, as the precheck's fix says.
ALTER TABLE "order"."table" REPLICA IDENTITY FULL;
ALTER TABLE app.cars REPLICA IDENTITY FULL;
ANALYZE;
