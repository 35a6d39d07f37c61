-- Two more sign-in limits: per account, for passwords from browsers the account has not been
-- used in, and per known browser. SQLite cannot alter a check: the table is made again with
-- the wider one and its rows (the blocks in force) copied over.
CREATE TABLE sign_in_limits_new (
    scope           TEXT   NOT NULL CHECK (scope IN ('pair', 'address', 'account', 'browser')),
    key             TEXT   NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL,
    pending         BIGINT NOT NULL,
    pending_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

INSERT INTO sign_in_limits_new
    SELECT scope, key, failures, last_failure_at, blocked_until, pending, pending_at
    FROM sign_in_limits;

DROP TABLE sign_in_limits;

ALTER TABLE sign_in_limits_new RENAME TO sign_in_limits;
