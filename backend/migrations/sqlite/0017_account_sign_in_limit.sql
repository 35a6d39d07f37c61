-- A third sign-in limit, per account, for passwords from browsers the account has not been
-- used in. The table holds only counters of the last quarter hour, so it is made again with
-- the wider check rather than altered (SQLite cannot alter a check).
DROP TABLE sign_in_limits;

CREATE TABLE sign_in_limits (
    scope           TEXT   NOT NULL CHECK (scope IN ('pair', 'address', 'account')),
    key             TEXT   NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL,
    pending         BIGINT NOT NULL,
    pending_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
