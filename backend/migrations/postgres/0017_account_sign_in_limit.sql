-- Two more sign-in limits: per account, for passwords from browsers the account has not been
-- used in, and per known browser. The blocks in force are kept.
ALTER TABLE sign_in_limits DROP CONSTRAINT sign_in_limits_scope_check;

ALTER TABLE sign_in_limits
    ADD CONSTRAINT sign_in_limits_scope_check
    CHECK (scope IN ('pair', 'address', 'account', 'browser'));
