-- The hassh and dst_ip expression indexes held an entry for every event, though only a few
-- event types carry those fields: each ingested row paid a B-tree insert of NULL twice
-- (ingest ran 15-25% faster without them, measured two runs each). Partial indexes keep
-- only the rows that have the field; `payload ->> 'hassh' = x` implies the field is not
-- null, so the planner still uses them for every equality lookup.
DROP INDEX raw_events_payload_hassh;
DROP INDEX raw_events_payload_dst_ip;
CREATE INDEX raw_events_payload_hassh ON raw_events ((payload ->> 'hassh')) WHERE (payload ->> 'hassh') IS NOT NULL;
CREATE INDEX raw_events_payload_dst_ip ON raw_events ((payload ->> 'dst_ip')) WHERE (payload ->> 'dst_ip') IS NOT NULL;
