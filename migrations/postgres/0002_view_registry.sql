-- Materialized views created by reports: their definition (hash) and last refresh, so a
-- changed definition is rebuilt and a stale view is reported, never silently read.
CREATE TABLE view_registry (
    name              text        PRIMARY KEY,
    definition_hash   text        NOT NULL,
    definition        text        NOT NULL,
    created_at        timestamptz NOT NULL,
    refreshed_at      timestamptz NOT NULL,
    refresh_on_ingest boolean     NOT NULL DEFAULT true
);
