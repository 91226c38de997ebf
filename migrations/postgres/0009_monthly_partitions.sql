-- raw_events and the fact tables (logins, commands, downloads, probes) become range-partitioned
-- by month on ts (docs/postgres.md, "Partitions"). A query over a month reads that month's
-- partitions; retention drops whole months. sessions and tunnels (one row per session or
-- forward, merged by key) stay single tables.
--
-- Keys include ts, as a partitioned table's unique keys must: the primary keys are (id, ts);
-- raw_events' idempotency key (ts, content_hash) already was. ids come from a sequence owned
-- by the column (PostgreSQL 15 has no identity columns on partitioned tables).
--
-- This transaction changes the schema only, in moments at any size: the old tables become
-- `<table>_unpartitioned` beside the new, partitioned ones. Their rows are then copied in
-- steps of their own (src/store/postgres/partitioning.rs, run by `db migrate` and by every
-- command that migrates): resumable after a kill, with a progress bar, checked (row counts and
-- an order-independent checksum of every row, per table, before and after) before each old
-- table is dropped. Until then `cowrieql_partitioning` says how far it is, and reports refuse
-- to read. It needs the tables' size again in free disk while it runs. A database without
-- rows (a new one) has nothing to copy: its old tables go at once.

-- Creates the month's partition of each partitioned table, and the next month's (so that an
-- ingest crossing into a new month finds it ready), unless they exist; returns how many it
-- made. Months before 2000 or more than two years ahead get no table of their own: their rows
-- (a broken clock, a hostile log) go to each table's `_other` partition, so a log cannot make
-- thousands of tables. Serialized by an advisory lock: concurrent ingests may call it at once.
CREATE FUNCTION cowrieql_ensure_month(month timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    first timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    m     timestamptz;
    t     text;
    part  text;
    idx   record;
    made  integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7165063265337340269);
    FOREACH m IN ARRAY ARRAY[first, (first AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC'] LOOP
        CONTINUE WHEN m < timestamptz '2000-01-01 00:00:00+00' OR m > now() + interval '2 years';
        FOREACH t IN ARRAY ARRAY['raw_events', 'logins', 'commands', 'downloads', 'probes'] LOOP
            part := t || '_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM');
            CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
            -- Created apart and attached: ATTACH takes a lighter lock on the parent than
            -- CREATE ... PARTITION OF, so reports reading the table are not blocked.
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, t);
            -- The parent's indexes, named after it (raw_events_payload_hassh_2025_09), so a plan
            -- says which index it reads; ATTACH takes them as the parent's indexes' partitions.
            FOR idx IN SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
                       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       WHERE i.indrelid = to_regclass(quote_ident(t)) AND NOT i.indisprimary LOOP
                EXECUTE regexp_replace(idx.def, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ',
                                       'CREATE \1INDEX ' || quote_ident(idx.name || '_' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM'))
                                       || ' ON ' || quote_ident(part) || ' ');
            END LOOP;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t, part, m,
                           (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;

-- Materialized views read these tables: dropped here, reports build them again when next run.
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT name FROM view_registry LOOP
        EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I CASCADE', v.name);
    END LOOP;
    DELETE FROM view_registry;
END $$;

DO $$
DECLARE
    t     text;
    old   text;
    idx   record;
BEGIN
    FOREACH t IN ARRAY ARRAY['raw_events', 'logins', 'commands', 'downloads', 'probes'] LOOP
        old := t || '_unpartitioned';
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, old);
        EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', old, t || '_pkey', old || '_pkey');
        -- Its indexes' names go to the partitioned table's.
        FOR idx IN SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE i.indrelid = to_regclass(quote_ident(old)) AND NOT i.indisprimary LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', idx.name, left(idx.name, 48) || '_unpartitioned');
        END LOOP;
        EXECUTE format('CREATE SEQUENCE %I', t || '_ids');
        EXECUTE format('SELECT setval(%L, COALESCE((SELECT max(id) FROM %I), 0) + 1, false)', t || '_ids', old);
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (ts)', t, old);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN id SET DEFAULT nextval(%L)', t, t || '_ids');
        EXECUTE format('ALTER SEQUENCE %I OWNED BY %I.id', t || '_ids', t);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id, ts)', t);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_other', t);
    END LOOP;

END $$;

-- The indexes the tables had, on the partitioned tables (before any month partition exists,
-- so that each month's are made, and named, with it).
CREATE UNIQUE INDEX raw_events_ts_hash ON raw_events (ts, content_hash);
CREATE INDEX raw_events_type_ts ON raw_events (event_type, ts);
CREATE INDEX raw_events_sensor_ts ON raw_events (sensor, ts);
CREATE INDEX raw_events_payload ON raw_events
    USING gin ((payload - CAST('{eventid,message,sensor,session,src_ip,src_port,timestamp}' AS TEXT[])) jsonb_path_ops)
    WITH (gin_pending_list_limit = 65536);
CREATE INDEX raw_events_payload_hassh ON raw_events ((payload ->> 'hassh')) WHERE (payload ->> 'hassh') IS NOT NULL;
CREATE INDEX raw_events_payload_dst_ip ON raw_events ((payload ->> 'dst_ip')) WHERE (payload ->> 'dst_ip') IS NOT NULL;
CREATE INDEX logins_ts ON logins (ts);
CREATE INDEX commands_ts ON commands (ts);
CREATE INDEX downloads_ts ON downloads (ts);
CREATE INDEX probes_ts ON probes (ts);

-- The copy's bookkeeping: one row per table still to copy, with the figures of its rows
-- before the copy, taken once (src/store/postgres/partitioning.rs).
CREATE TABLE cowrieql_partitioning (
    table_name      text PRIMARY KEY,
    last_id         bigint NOT NULL DEFAULT 0,
    rows_copied     bigint NOT NULL DEFAULT 0,
    rows_before     bigint,
    checksum_before numeric
);

DO $$
DECLARE
    t   text;
    old text;
    any_rows boolean;
BEGIN
    PERFORM cowrieql_ensure_month(now());
    FOREACH t IN ARRAY ARRAY['raw_events', 'logins', 'commands', 'downloads', 'probes'] LOOP
        old := t || '_unpartitioned';
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', old) INTO any_rows;
        IF any_rows THEN
            INSERT INTO cowrieql_partitioning (table_name) VALUES (t);
        ELSE
            EXECUTE format('DROP TABLE %I', old);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM cowrieql_partitioning) THEN
        DROP TABLE cowrieql_partitioning;
    END IF;
END $$;
