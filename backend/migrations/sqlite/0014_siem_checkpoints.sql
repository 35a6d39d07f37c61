-- Checkpoints go to the SIEM with the events: how far each sink has had them.
ALTER TABLE siem_cursors ADD COLUMN last_checkpoint BIGINT NOT NULL DEFAULT 0;
