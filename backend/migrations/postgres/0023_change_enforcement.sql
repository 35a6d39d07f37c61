-- A change may hold its sessions to its script more strictly than its access group does
-- ('script_only', 'script_only_in_order'); NULL is as its group.
ALTER TABLE changes ADD COLUMN enforcement TEXT;
