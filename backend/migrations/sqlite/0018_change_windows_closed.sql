-- When the sweep recorded that a change's window closed (the trail's change.expired or
-- change.partially_executed event). The status itself is still read off the due date.
-- Windows closed before this column existed count as recorded: the sweep does not announce
-- them all at once, stamped with the time of the upgrade.
ALTER TABLE changes ADD COLUMN closed_at BIGINT;

UPDATE changes SET closed_at = due_at
WHERE due_at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000;
