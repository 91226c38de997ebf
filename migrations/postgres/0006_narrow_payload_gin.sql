-- The GIN index on payload held an entry for every key of every event, most of them useless
-- to it: keys that have a column of their own (timestamp, session, sensor, src_ip, eventid),
-- and keys unique to each event (message, src_port). It is rebuilt on the payload without
-- them: ingest ran a sixth faster (measured two runs each), and a containment test on any
-- other key is answered as before. The PostgreSQL emitter writes the same expression
-- (src/sql/postgres.rs, GIN_UNINDEXED_KEYS, same keys in the same order).
DROP INDEX raw_events_payload;
CREATE INDEX raw_events_payload ON raw_events
    USING gin ((payload - CAST('{eventid,message,sensor,session,src_ip,src_port,timestamp}' AS TEXT[])) jsonb_path_ops)
    WITH (gin_pending_list_limit = 65536);
