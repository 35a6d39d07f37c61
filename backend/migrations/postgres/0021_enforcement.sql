-- Script-only change sessions: how a group's change sessions are held to their script
-- ('off', 'script_only', 'script_only_in_order'), and, kept with each session, how it was.
ALTER TABLE access_groups ADD COLUMN enforcement TEXT NOT NULL DEFAULT 'off';
ALTER TABLE terminal_sessions ADD COLUMN enforcement TEXT NOT NULL DEFAULT 'off';
