-- Cowrie 3.x facts (docs/schema.md, "Where each event id lands"). Columns added to existing
-- tables get the value every row ingested before this migration had implicitly; run
-- `cowrieql db rederive` to recompute facts of stored events under the new rules.
ALTER TABLE logins ADD COLUMN method TEXT NOT NULL DEFAULT 'password'
    CHECK (method IN ('password', 'publickey', 'none', 'exploit'));
ALTER TABLE logins ADD COLUMN key_type TEXT;
ALTER TABLE logins ADD COLUMN fingerprint TEXT;

ALTER TABLE commands ADD COLUMN realm TEXT NOT NULL DEFAULT 'shell';

ALTER TABLE downloads ADD COLUMN kind TEXT NOT NULL DEFAULT 'url'
    CHECK (kind IN ('url', 'redirect', 'upload-sftp', 'upload-scp', 'failed'));
ALTER TABLE downloads ADD COLUMN destfile TEXT;
ALTER TABLE downloads ADD COLUMN error TEXT;

ALTER TABLE sessions ADD COLUMN key_fingerprint TEXT;
ALTER TABLE sessions ADD COLUMN term_width INTEGER;
ALTER TABLE sessions ADD COLUMN term_height INTEGER;
ALTER TABLE sessions ADD COLUMN term_size_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN env TEXT;
ALTER TABLE sessions ADD COLUMN arch TEXT;
ALTER TABLE sessions ADD COLUMN ttylog TEXT;
ALTER TABLE sessions ADD COLUMN ttylog_size INTEGER;
ALTER TABLE sessions ADD COLUMN probe_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tunnel_count INTEGER NOT NULL DEFAULT 0;

-- One row per forwarded target of a session (direct-tcpip channels to the same host and port
-- in one session are one row: Cowrie's events do not name the channel).
CREATE TABLE tunnels (
    sensor         TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    dst_ip         TEXT    NOT NULL,
    dst_port       INTEGER NOT NULL,
    src_ip         TEXT,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    requests       INTEGER NOT NULL,
    data_events    INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    orig_ip        TEXT,
    orig_port      INTEGER,
    route          TEXT    CHECK (route IN ('redirect', 'tunnel')),
    new_ip         TEXT,
    new_port       INTEGER,
    ja4            TEXT,
    ja4h           TEXT,
    http_method    TEXT,
    http_host      TEXT,
    http_path      TEXT,
    tls_sni        TEXT,
    smtp_helo      TEXT,
    smtp_mail_from TEXT,
    PRIMARY KEY (sensor, session_id, dst_ip, dst_port)
);
CREATE INDEX tunnels_first_seen ON tunnels (first_seen);

-- Exploit attempts and probes: one row per event.
CREATE TABLE probes (
    id         INTEGER PRIMARY KEY,
    event_id   INTEGER NOT NULL,
    session_id TEXT    NOT NULL,
    ts         TEXT    NOT NULL,
    sensor     TEXT    NOT NULL,
    src_ip     TEXT,
    kind       TEXT    NOT NULL
        CHECK (kind IN ('exploit_attempt', 'exploit_success', 'telnet_error', 'malformed_packet', 'chpasswd')),
    cve        TEXT,
    username   TEXT,
    name       TEXT,
    value      TEXT,
    detail     TEXT
);
CREATE INDEX probes_ts ON probes (ts);
