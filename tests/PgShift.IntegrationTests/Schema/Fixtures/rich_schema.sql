-- A broad, realistic schema for the schema-migration tests: at least one object of every kind PgShift
-- migrates, with identifiers that need quoting. Loads unchanged on PostgreSQL 12, 15 and 17 built with ICU
-- (every test server is). A few rows are inserted at the end so that sequences have advanced and the
-- materialized view holds data.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgshift_fixture_reader') THEN
        CREATE ROLE pgshift_fixture_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created at the same moment by another test
END
$$;

CREATE SCHEMA app;
CREATE SCHEMA "Sales Dept";
CREATE SCHEMA "select";
CREATE SCHEMA "order";
CREATE SCHEMA "données";
CREATE SCHEMA "we""ird";
CREATE SCHEMA ext;

COMMENT ON SCHEMA app IS 'Core application objects';
COMMENT ON SCHEMA "Sales Dept" IS 'Sales team''s tables';

CREATE EXTENSION citext WITH SCHEMA ext;
CREATE EXTENSION pgcrypto WITH SCHEMA ext;
CREATE EXTENSION hstore;

-- ------------------------------------------------------------------ types, domains, collations

CREATE TYPE app.order_status AS ENUM ('new', 'paid', 'shipped', 'archived');
CREATE TYPE app.tag AS ENUM ('gift', 'fragile', 'express');
CREATE TYPE app.address AS (street text, city text, zip varchar(10));
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE app.address IS 'Postal address';

CREATE DOMAIN app.open_status AS app.order_status
    CONSTRAINT not_archived CHECK (VALUE <> 'archived');
CREATE DOMAIN app.payable_status AS app.open_status
    DEFAULT 'new' NOT NULL
    CONSTRAINT new_or_paid CHECK (VALUE::app.order_status IN ('new', 'paid'));
CREATE DOMAIN app.positive_money AS numeric(12, 2) CHECK (VALUE > 0);
CREATE DOMAIN "données".code_postal AS text CHECK (VALUE ~ '^[0-9]{5}$');
COMMENT ON DOMAIN app.positive_money IS 'Strictly positive amount';

CREATE COLLATION app.c_utf8 (provider = libc, locale = 'C.UTF-8');
CREATE COLLATION app.plain_c FROM "C";
-- ICU (every test server is built with it; the catalog keeps its locale in another column on 12, 15 and 17):
-- a case-insensitive, nondeterministic one, and a tailored one whose name needs quoting.
CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION app."Phone Book" (provider = icu, locale = 'de-u-co-phonebk');
COMMENT ON COLLATION app.ci IS 'Case-insensitive';

-- ------------------------------------------------------------------ functions

CREATE FUNCTION app.default_region() RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'EU'::text $$;

CREATE FUNCTION app.line_total(qty integer, price numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT qty * price $$;
COMMENT ON FUNCTION app.line_total(integer, numeric) IS 'Quantity times unit price';

CREATE FUNCTION app.order_count(p_customer bigint, OUT n bigint, OUT last_at timestamptz)
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    SELECT count(*), max(o.created_at) INTO n, last_at FROM app.orders o WHERE o.customer_id = p_customer;
END
$$;

CREATE FUNCTION app.mask_email(email text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    RETURN regexp_replace(email, '^[^@]+', '***');
END
$$;
REVOKE ALL ON FUNCTION app.mask_email(text) FROM PUBLIC;

CREATE FUNCTION app.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE FUNCTION app.audit() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO app.audit_log (table_name, op, at) VALUES (TG_TABLE_NAME, TG_OP, now());
    RETURN NULL;
END
$$;

CREATE FUNCTION app.reject_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are frozen', TG_TABLE_NAME;
END
$$;

CREATE PROCEDURE app.archive_orders(older_than interval)
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE app.orders SET note = 'archived' WHERE created_at < now() - older_than;
END
$$;

CREATE FUNCTION app.approx_eq(a float8, b float8) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT abs(a - b) < 1e-9 $$;

CREATE OPERATOR app.=~ (
    LEFTARG = float8, RIGHTARG = float8, FUNCTION = app.approx_eq,
    COMMUTATOR = OPERATOR(app.=~)
);
COMMENT ON OPERATOR app.=~ (float8, float8) IS 'Equal within 1e-9';

CREATE FUNCTION app.concat_step(acc text, item text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN acc = '' THEN item ELSE acc || ', ' || item END $$;

CREATE AGGREGATE app.comma_list(text) (SFUNC = app.concat_step, STYPE = text, INITCOND = '');

-- ------------------------------------------------------------------ sequences

CREATE SEQUENCE app.invoice_no AS integer INCREMENT BY 5 MINVALUE 100 MAXVALUE 1000000 START WITH 100 CACHE 1 CYCLE;
CREATE SEQUENCE app.countdown INCREMENT BY -1 MINVALUE -1000 MAXVALUE 0 START WITH 0;

-- ------------------------------------------------------------------ tables

CREATE TABLE app.customers (
    id bigserial,
    name text NOT NULL,
    email ext.citext NOT NULL,
    region text NOT NULL DEFAULT app.default_region(),
    address app.address,
    sort_name text COLLATE app.c_utf8,
    handle text COLLATE app.ci,
    extra hstore,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    CONSTRAINT customers_pkey PRIMARY KEY (id),
    CONSTRAINT customers_email_key UNIQUE (email),
    CONSTRAINT customers_id_region_key UNIQUE (id, region),
    CONSTRAINT customers_name_check CHECK (length(name) > 0)
);
-- A dropped column leaves a hole in the source's attribute numbers.
ALTER TABLE app.customers ADD COLUMN legacy_code text;
ALTER TABLE app.customers DROP COLUMN legacy_code;
ALTER TABLE app.customers ADD COLUMN vip boolean NOT NULL DEFAULT false;
COMMENT ON TABLE app.customers IS 'People who buy';
COMMENT ON COLUMN app.customers.email IS 'Case-insensitive e-mail address';

CREATE TABLE app.orders (
    id integer GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 10),
    customer_id bigint NOT NULL,
    region text NOT NULL DEFAULT app.default_region(),
    status app.payable_status,
    tags app.tag[] NOT NULL DEFAULT '{}',
    invoice_no integer DEFAULT nextval('app.invoice_no'),
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    PRIMARY KEY (id),
    UNIQUE (id, region),
    FOREIGN KEY (customer_id, region) REFERENCES app.customers (id, region) ON UPDATE CASCADE
) WITH (fillfactor = 70);
ALTER TABLE app.orders ALTER COLUMN note SET STORAGE EXTERNAL;
COMMENT ON COLUMN app.orders.tags IS 'Handling tags';

CREATE TABLE app.order_lines (
    line_id bigint GENERATED BY DEFAULT AS IDENTITY (MINVALUE 5 MAXVALUE 99999999 CACHE 20),
    order_id integer NOT NULL,
    region text NOT NULL,
    qty integer NOT NULL CHECK (qty > 0),
    unit_price app.positive_money NOT NULL,
    total numeric GENERATED ALWAYS AS (qty * unit_price) STORED,
    PRIMARY KEY (line_id),
    CONSTRAINT order_lines_order_fkey FOREIGN KEY (order_id, region) REFERENCES app.orders (id, region)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE app.employees (
    id serial PRIMARY KEY,
    name text NOT NULL,
    manager_id integer REFERENCES app.employees (id) ON DELETE SET NULL,
    badge integer NOT NULL,
    surname text COLLATE app."Phone Book"
);
CREATE SEQUENCE app.badge_seq;
ALTER SEQUENCE app.badge_seq OWNED BY app.employees.badge;
ALTER TABLE app.employees ALTER COLUMN badge SET DEFAULT nextval('app.badge_seq');

CREATE TABLE app.audit_log (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    op text NOT NULL,
    at timestamptz NOT NULL
);
CREATE RULE audit_log_no_delete AS ON DELETE TO app.audit_log DO INSTEAD NOTHING;

CREATE TABLE app.bookings (
    id serial PRIMARY KEY,
    during tstzrange NOT NULL,
    score app.floatrange,
    area box,
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&),
    CONSTRAINT bookings_no_area_overlap EXCLUDE USING gist (area WITH &&) WHERE (area IS NOT NULL)
);

-- partitioned by range, with a DEFAULT partition and a sub-partitioned (by list) partition
CREATE TABLE app.events (
    id bigint NOT NULL,
    at date NOT NULL,
    kind text NOT NULL,
    payload jsonb,
    PRIMARY KEY (id, at, kind)
) PARTITION BY RANGE (at);
CREATE TABLE app.events_2023 PARTITION OF app.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
    PARTITION BY LIST (kind);
CREATE TABLE app.events_2024_click PARTITION OF app.events_2024 FOR VALUES IN ('click', 'tap');
CREATE TABLE app.events_2024_other PARTITION OF app.events_2024 DEFAULT;
CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
CREATE INDEX events_kind_idx ON app.events (kind);

-- inheritance
CREATE TABLE app.vehicles (
    id integer PRIMARY KEY,
    name text NOT NULL,
    CONSTRAINT vehicles_id_positive CHECK (id > 0)
);
CREATE TABLE app.cars (
    doors smallint NOT NULL DEFAULT 4 CHECK (doors BETWEEN 2 AND 5)
) INHERITS (app.vehicles);

CREATE UNLOGGED TABLE app.session_cache (
    key text PRIMARY KEY,
    value bytea,
    expires_at timestamptz
);

CREATE TABLE app.frozen_rows (id integer PRIMARY KEY, note text);

CREATE TABLE public.settings (name text PRIMARY KEY, value text);

CREATE TABLE "Sales Dept"."Order Items" (
    "Item ID" integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "select" text,
    "Unit Price" numeric(10, 2) CHECK ("Unit Price" >= 0),
    "quote""d" text
);
CREATE TABLE "Sales Dept"."line.items" (
    id integer PRIMARY KEY,
    item_id integer REFERENCES "Sales Dept"."Order Items" ("Item ID"),
    "order" integer
);
CREATE TABLE "select"."order" ("group" integer PRIMARY KEY, "user" text, "from" date);
CREATE TABLE "order"."table" (id integer, "select" text);
CREATE TABLE "données"."élément" (
    id serial PRIMARY KEY,
    "libellé" text NOT NULL,
    code "données".code_postal,
    "créé_le" timestamptz DEFAULT now()
);
CREATE TABLE "we""ird"."ta""ble" (id integer PRIMARY KEY, "co""l" text);

-- ------------------------------------------------------------------ indexes (besides keys)

CREATE INDEX orders_open_idx ON app.orders (created_at) WHERE status::app.order_status = 'new';
CREATE INDEX customers_lower_name_idx ON app.customers (lower(name));
CREATE UNIQUE INDEX employees_badge_idx ON app.employees (badge);
CREATE INDEX orders_tags_idx ON app.orders USING gin (tags);
CREATE INDEX customers_region_created_idx ON app.customers (region, created_at DESC NULLS LAST);
CREATE INDEX "Order Items_select_idx" ON "Sales Dept"."Order Items" ("select" text_pattern_ops);
-- A handle is unique whatever its case.
CREATE UNIQUE INDEX customers_handle_idx ON app.customers (handle);
CREATE INDEX customers_name_phone_book_idx ON app.customers (name COLLATE app."Phone Book");
CREATE INDEX employees_surname_idx ON app.employees (surname);
COMMENT ON INDEX app.orders_open_idx IS 'Orders waiting for payment';
COMMENT ON CONSTRAINT customers_name_check ON app.customers IS 'A customer has a name';

-- ------------------------------------------------------------------ views

-- A SQL function's body is checked when it is created: this one comes after its table.
CREATE FUNCTION app.customers_named(pattern text DEFAULT '%') RETURNS SETOF bigint
    LANGUAGE sql STABLE ROWS 50
    AS $$ SELECT id FROM app.customers WHERE name LIKE pattern $$;


CREATE VIEW app.open_orders AS
    SELECT o.id, o.customer_id, o.region, o.status, o.created_at
    FROM app.orders o
    WHERE o.status::app.order_status = 'new';
CREATE VIEW app.open_orders_eu AS
    SELECT id, customer_id, created_at FROM app.open_orders WHERE region = 'EU';
CREATE VIEW app.big_lines AS
    SELECT * FROM app.order_lines WHERE qty >= 10
    WITH LOCAL CHECK OPTION;
CREATE VIEW app.huge_lines AS
    SELECT * FROM app.big_lines WHERE qty >= 100
    WITH CASCADED CHECK OPTION;
CREATE VIEW "Sales Dept"."Priced Items" AS
    SELECT "Item ID", "select", "Unit Price" FROM "Sales Dept"."Order Items" WHERE "Unit Price" IS NOT NULL;
COMMENT ON VIEW app.open_orders IS 'Orders not paid yet';
COMMENT ON COLUMN app.open_orders.status IS 'Always new';

CREATE MATERIALIZED VIEW app.customer_totals AS
    SELECT c.id AS customer_id, c.name, count(o.id) AS orders, app.comma_list(o.note) AS notes
    FROM app.customers c LEFT JOIN app.orders o ON o.customer_id = c.id
    GROUP BY c.id, c.name;
CREATE UNIQUE INDEX customer_totals_customer_idx ON app.customer_totals (customer_id);

-- ------------------------------------------------------------------ triggers

CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders
    FOR EACH ROW EXECUTE PROCEDURE app.touch_updated_at();
CREATE TRIGGER customers_touch BEFORE UPDATE ON app.customers
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE PROCEDURE app.touch_updated_at();
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE OR DELETE ON app.orders
    FOR EACH STATEMENT EXECUTE PROCEDURE app.audit();
CREATE TRIGGER order_lines_audit AFTER INSERT OR DELETE ON app.order_lines
    FOR EACH ROW EXECUTE PROCEDURE app.audit();
CREATE TRIGGER frozen_rows_guard BEFORE UPDATE OR DELETE ON app.frozen_rows
    FOR EACH ROW EXECUTE PROCEDURE app.reject_change();
CREATE TRIGGER customers_status_audit AFTER UPDATE OF name, email ON app.customers
    FOR EACH ROW EXECUTE PROCEDURE app.audit();
CREATE TRIGGER events_audit AFTER INSERT ON app.events
    FOR EACH ROW EXECUTE PROCEDURE app.audit();
ALTER TABLE app.order_lines DISABLE TRIGGER order_lines_audit;
ALTER TABLE app.frozen_rows ENABLE ALWAYS TRIGGER frozen_rows_guard;
COMMENT ON TRIGGER orders_touch ON app.orders IS 'Keeps updated_at current';

-- ------------------------------------------------------------------ grants

GRANT USAGE ON SCHEMA app TO pgshift_fixture_reader;
GRANT SELECT ON app.customers, app.orders, app.open_orders TO pgshift_fixture_reader;
GRANT SELECT (id, name), UPDATE (name) ON app.employees TO pgshift_fixture_reader;
GRANT INSERT, SELECT ON app.audit_log TO pgshift_fixture_reader WITH GRANT OPTION;
GRANT USAGE, SELECT ON SEQUENCE app.invoice_no TO pgshift_fixture_reader;
GRANT EXECUTE ON FUNCTION app.mask_email(text) TO pgshift_fixture_reader;
GRANT USAGE ON TYPE app.order_status TO pgshift_fixture_reader;
REVOKE ALL ON app.session_cache FROM PUBLIC;

-- ------------------------------------------------------------------ a few rows

INSERT INTO app.customers (name, email, address, handle) VALUES
    ('Ada', 'ada@example.com', ROW('1 Loop St', 'London', 'N1'), 'ada'),
    ('Bob', 'BOB@example.com', NULL, 'Bob');
INSERT INTO app.orders (customer_id, status, tags, note)
    SELECT id, 'new', '{gift}', 'first order of ' || name FROM app.customers;
INSERT INTO app.order_lines (order_id, region, qty, unit_price)
    SELECT id, region, 12, 9.99 FROM app.orders;
INSERT INTO app.employees (name, surname) VALUES ('Chief', 'Müller');
INSERT INTO app.employees (name, manager_id, surname) VALUES ('Deputy', 1, 'Mueller');
SELECT nextval('app.invoice_no') FROM generate_series(1, 7);
SELECT nextval('app.countdown') FROM generate_series(1, 3);
INSERT INTO app.events VALUES (1, '2023-05-01', 'click', NULL), (2, '2024-02-01', 'tap', '{}'), (3, '2024-03-01', 'view', NULL), (4, '2026-01-01', 'click', NULL);
INSERT INTO "Sales Dept"."Order Items" ("select", "Unit Price") VALUES ('widget', 2.50);
INSERT INTO "données"."élément" ("libellé", code) VALUES ('premier', '75001');
REFRESH MATERIALIZED VIEW app.customer_totals;
