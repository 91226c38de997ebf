-- raw_events' (sensor, session_id) index was a random-order insert per event (it cost about a
-- third of ingest speed, measured) and served only lookups that named the sensor. One
-- session's events are found through the sessions table instead: its sensor and time range
-- lead to a range of the time index. (sensor, ts) grows at one end per sensor, so it is cheap
-- to keep, and serves per-sensor time ranges.
DROP INDEX raw_events_session;
CREATE INDEX raw_events_sensor_ts ON raw_events (sensor, ts);
