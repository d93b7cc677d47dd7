-- EstudiApp dashboard database: the schema that holds every object, and the log of applied files.
-- Each file in sql/ runs in one transaction and stops at the first error
-- (`estudiapp db init`, or `psql --single-transaction -v ON_ERROR_STOP=1 -f FILE`).
-- Every file is re-runnable: tables are created if missing, reference rows are upserted, views are dropped and rebuilt.

CREATE SCHEMA IF NOT EXISTS estudiapp;
SET LOCAL search_path TO estudiapp, public;

-- Which version of each file the database has seen; `estudiapp db init` writes one row per file it applies.
CREATE TABLE IF NOT EXISTS schema_file (
    name        text PRIMARY KEY,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Answer options are enum types: four bytes a value, shown as their label, sorted in ICFES's order, anything else
-- refused. ensure_enum creates a type, or adds the labels it lacks in their place, so files stay re-runnable when ICFES
-- adds an answer (PostgreSQL cannot drop an enum label; a removed answer stays allowed).
CREATE OR REPLACE FUNCTION ensure_enum(type_name text, labels text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    type_oid regtype := to_regtype(format('estudiapp.%I', type_name));
    label text;
    previous text;
BEGIN
    IF type_oid IS NULL THEN
        EXECUTE format('CREATE TYPE estudiapp.%I AS ENUM (%s)', type_name,
                       (SELECT string_agg(quote_literal(l), ', ' ORDER BY i) FROM unnest(labels) WITH ORDINALITY AS u (l, i)));
        RETURN;
    END IF;
    FOREACH label IN ARRAY labels LOOP
        IF previous IS NULL THEN
            EXECUTE format('ALTER TYPE estudiapp.%I ADD VALUE IF NOT EXISTS %L BEFORE %L', type_name, label,
                           (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = type_oid ORDER BY e.enumsortorder LIMIT 1));
        ELSE
            EXECUTE format('ALTER TYPE estudiapp.%I ADD VALUE IF NOT EXISTS %L AFTER %L', type_name, label, previous);
        END IF;
        previous := label;
    END LOOP;
END $$;
