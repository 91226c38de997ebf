-- Core schema. Timestamps are fixed-width ISO-8601 UTC text ('2020-01-21T13:14:26.457892Z'),
-- so text order is time order and range tests against a bound text parameter are correct.
-- Booleans are 0/1 integers (SQLite has no boolean type).

CREATE TABLE raw_events (
    id             INTEGER PRIMARY KEY,
    session_id     TEXT,
    event_type     TEXT    NOT NULL,
    ts             TEXT    NOT NULL,
    src_ip         TEXT,
    sensor         TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    source_file    TEXT    NOT NULL,
    source_offset  INTEGER NOT NULL,
    content_hash   BLOB    NOT NULL
);
-- The idempotency key leads with the event time: identical lines have identical times, and
-- new rows land near the end of the index instead of at random places (ingest speed). The
-- same index serves time-range queries.
CREATE UNIQUE INDEX raw_events_ts_hash ON raw_events (ts, content_hash);
CREATE INDEX raw_events_session ON raw_events (sensor, session_id);
CREATE INDEX raw_events_type_ts ON raw_events (event_type, ts);

-- Fact tables are indexed by time only: a (sensor, session_id) index here is a random-order
-- insert per row that cost a third of ingest speed (measured). Per-session lookups go through
-- raw_events' session index, the sessions table, or a time range.
CREATE TABLE logins (
    id         INTEGER PRIMARY KEY,
    event_id   INTEGER NOT NULL,
    session_id TEXT    NOT NULL,
    ts         TEXT    NOT NULL,
    sensor     TEXT    NOT NULL,
    src_ip     TEXT,
    username   TEXT,
    password   TEXT,
    success    INTEGER NOT NULL CHECK (success IN (0, 1))
);
CREATE INDEX logins_ts ON logins (ts);

CREATE TABLE commands (
    id         INTEGER PRIMARY KEY,
    event_id   INTEGER NOT NULL,
    session_id TEXT    NOT NULL,
    ts         TEXT    NOT NULL,
    sensor     TEXT    NOT NULL,
    src_ip     TEXT,
    input      TEXT    NOT NULL,
    failed     INTEGER NOT NULL CHECK (failed IN (0, 1))
);
CREATE INDEX commands_ts ON commands (ts);

CREATE TABLE downloads (
    id         INTEGER PRIMARY KEY,
    event_id   INTEGER NOT NULL,
    session_id TEXT    NOT NULL,
    ts         TEXT    NOT NULL,
    sensor     TEXT    NOT NULL,
    src_ip     TEXT,
    url        TEXT,
    shasum     TEXT,
    outfile    TEXT,
    direction  TEXT    NOT NULL CHECK (direction IN ('download', 'upload'))
);
CREATE INDEX downloads_ts ON downloads (ts);

CREATE TABLE sessions (
    sensor               TEXT    NOT NULL,
    session_id           TEXT    NOT NULL,
    src_ip               TEXT,
    protocol             TEXT,
    first_event_at       TEXT    NOT NULL,
    last_event_at        TEXT    NOT NULL,
    duration_s           REAL,
    event_count          INTEGER NOT NULL,
    command_count        INTEGER NOT NULL,
    failed_command_count INTEGER NOT NULL,
    login_attempts       INTEGER NOT NULL,
    login_failures       INTEGER NOT NULL,
    login_success        INTEGER NOT NULL CHECK (login_success IN (0, 1)),
    username             TEXT,
    download_count       INTEGER NOT NULL,
    upload_count         INTEGER NOT NULL,
    client_version       TEXT,
    hassh                TEXT,
    closed               INTEGER NOT NULL CHECK (closed IN (0, 1)),
    vt_flagged           INTEGER NOT NULL CHECK (vt_flagged IN (0, 1)),
    dshield_flagged      INTEGER NOT NULL CHECK (dshield_flagged IN (0, 1)),
    PRIMARY KEY (sensor, session_id)
);
CREATE INDEX sessions_first_event ON sessions (first_event_at);
CREATE INDEX sessions_src_ip ON sessions (src_ip);

CREATE TABLE dead_letters (
    id            INTEGER PRIMARY KEY,
    source_file   TEXT    NOT NULL,
    source_offset INTEGER NOT NULL,
    raw           TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    content_hash  BLOB    NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX dead_letters_source ON dead_letters (source_file, source_offset, content_hash);

CREATE TABLE ingest_checkpoints (
    source_file  TEXT    PRIMARY KEY,
    byte_offset  INTEGER NOT NULL,
    head_hash    BLOB    NOT NULL,
    head_len     INTEGER NOT NULL,
    lines_read   INTEGER NOT NULL,
    updated_at   TEXT    NOT NULL
);
