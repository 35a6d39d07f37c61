-- A session's text as a person read it (escape sequences removed), for Audited sessions'
-- search and Session logs; kept when the session ends.
ALTER TABLE terminal_sessions ADD COLUMN transcript TEXT NOT NULL DEFAULT '';

CREATE INDEX terminal_sessions_by_change ON terminal_sessions (change_id, started_at);
CREATE INDEX terminal_sessions_by_device ON terminal_sessions (device_id, started_at);
