-- The script and benign commands a session was held against, as they were when it started:
-- its board stays what it was even if the change is edited later. Empty for sessions from
-- before this step, which fall back to the change's current script.
ALTER TABLE terminal_sessions ADD COLUMN script TEXT;
ALTER TABLE terminal_sessions ADD COLUMN benign_commands TEXT;
