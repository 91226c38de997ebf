-- When the event that gave each of these session values happened: pieces of a session reach
-- the database in any order, and the merge keeps the earliest value (the latest terminal
-- size) by these times. Filled for stored events by the rederive that follows this migration.
ALTER TABLE sessions ADD COLUMN username_at TEXT;
ALTER TABLE sessions ADD COLUMN key_fingerprint_at TEXT;
ALTER TABLE sessions ADD COLUMN arch_at TEXT;
ALTER TABLE sessions ADD COLUMN ttylog_at TEXT;
ALTER TABLE sessions ADD COLUMN term_at TEXT;
