-- The audit trail: one append-only log. `seq` is given by the writer (last + 1), so two
-- writers racing for the same place cannot both succeed, and the chain stays a line.
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    object    TEXT,
    details   TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL UNIQUE,
    hash      TEXT   NOT NULL UNIQUE
);

CREATE TRIGGER audit_events_refuse_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_refuse_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
