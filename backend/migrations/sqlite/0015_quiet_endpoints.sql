-- A SIEM sink that had events before checkpoints were streamed is not sent every checkpoint
-- over them again: it starts from the first checkpoint past what it had.
UPDATE siem_cursors SET last_checkpoint = (
    SELECT COALESCE(MAX(tree_size), 0) FROM trail_checkpoints
    WHERE tree_size <= siem_cursors.last_seq
);

-- Webhook calls queued before endpoints were shown name their URL, and errors may quote it:
-- the sender takes the URL from the configuration now, so neither is kept.
UPDATE deliveries SET target = 'webhook', last_error = '' WHERE channel = 'webhook';
UPDATE siem_cursors SET last_error = '';
