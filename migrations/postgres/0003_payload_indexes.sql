-- Indexes for ad-hoc questions about payload fields that have no column of their own.
-- The GIN index (jsonb_path_ops: smaller and faster than the default operator class, and
-- containment is all it must answer) serves `payload.x == 'text'` anywhere in the payload:
-- the PostgreSQL emitter pairs such a WHERE test with `payload @> {"x": "text"}`.
-- The expression indexes serve the fields analysts look up most often.
-- SQLite has no equivalent, so this migration exists only for PostgreSQL.
CREATE INDEX raw_events_payload ON raw_events USING gin (payload jsonb_path_ops) WITH (gin_pending_list_limit = 65536);
CREATE INDEX raw_events_payload_hassh ON raw_events ((payload ->> 'hassh'));
CREATE INDEX raw_events_payload_dst_ip ON raw_events ((payload ->> 'dst_ip'));
