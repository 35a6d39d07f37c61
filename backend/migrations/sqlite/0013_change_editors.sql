-- Everyone who edited a change after registering it: none of them may approve its requests
-- (separation of duties covers editors, not only the author). Filled from the trail's
-- change.edited events for changes edited before this table existed.
CREATE TABLE change_editors (
    change_id TEXT   NOT NULL REFERENCES changes (id),
    user_id   BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (change_id, user_id)
);

INSERT INTO change_editors (change_id, user_id)
SELECT DISTINCT c.id, u.id
FROM audit_events e
JOIN users u ON u.username = e.actor
JOIN changes c ON e.object = 'change:' || c.id
WHERE e.action = 'change.edited';
