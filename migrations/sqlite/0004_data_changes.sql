-- When stored data last changed (an ingest that added rows): views refreshed before it are
-- stale. One row; an ingest that adds nothing leaves it alone.
CREATE TABLE data_changes (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    changed_at TEXT    NOT NULL
);
