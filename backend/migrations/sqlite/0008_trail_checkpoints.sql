-- Signed checkpoints of the trail's Merkle tree (RFC 6962), append-only like the events.
CREATE TABLE trail_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root      TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    key_id    TEXT   NOT NULL,
    signature TEXT   NOT NULL,
    -- The right edge of the tree at this size (a JSON list of hex hashes): the next
    -- checkpoint goes on from it without reading the events before.
    frontier  TEXT   NOT NULL
);

-- The tree's perfect subtrees of 16 leaves and more (level 4 and up), for proofs; smaller
-- ones are hashed from the events when a proof needs them.
CREATE TABLE trail_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  TEXT   NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TRIGGER trail_checkpoints_refuse_update BEFORE UPDATE ON trail_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'trail_checkpoints is append-only: UPDATE refused');
END;

CREATE TRIGGER trail_checkpoints_refuse_delete BEFORE DELETE ON trail_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'trail_checkpoints is append-only: DELETE refused');
END;
