-- How far each SIEM sink has had the trail: the last event it took, and when to try again
-- after a failure (or while a replica holds its lease).
CREATE TABLE siem_cursors (
    sink            TEXT   PRIMARY KEY,
    last_seq        BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT   NOT NULL
);
