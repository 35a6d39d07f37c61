-- Sign-in limits per pair (method, account, address) and per address, instead of per account:
-- someone else's failures no longer lock a person out. `pending` counts attempts admitted and
-- not yet settled, so a parallel burst gets the free allowance and no more.
CREATE TABLE sign_in_limits (
    scope           TEXT   NOT NULL CHECK (scope IN ('pair', 'address')),
    key             TEXT   NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL,
    pending         BIGINT NOT NULL,
    pending_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

DROP TABLE login_throttle;
