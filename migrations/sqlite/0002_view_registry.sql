-- Materialized views created by reports. SQLite inlines a report's `materialize` prefix as a
-- CTE, so on SQLite this table stays empty; it exists so both schemas have the same tables.
CREATE TABLE view_registry (
    name              TEXT    PRIMARY KEY,
    definition_hash   TEXT    NOT NULL,
    definition        TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    refreshed_at      TEXT    NOT NULL,
    refresh_on_ingest INTEGER NOT NULL DEFAULT 1 CHECK (refresh_on_ingest IN (0, 1))
);
