-- The replicas serving this installation: where their peers reach them (the cluster listener,
-- when they have one) and their heartbeat. A session names the replica that runs it, so a
-- watcher on another replica is relayed its live recording from there.
CREATE TABLE replicas (
    id           TEXT   PRIMARY KEY,
    address      TEXT,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

ALTER TABLE terminal_sessions ADD COLUMN replica_id TEXT;
