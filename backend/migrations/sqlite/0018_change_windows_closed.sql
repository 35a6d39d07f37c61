-- When the sweep recorded that a change's window closed (the trail's change.expired or
-- change.partially_executed event). The status itself is still read off the due date.
ALTER TABLE changes ADD COLUMN closed_at BIGINT;
