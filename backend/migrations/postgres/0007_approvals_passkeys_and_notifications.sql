-- The approval flow: the decisions on requests, the passkeys that sign them, the WebAuthn
-- ceremonies between their two steps, and the notifications the flow sends.

-- Why a request left `pending` or `approved` when no person's decision says it (expired at the
-- due date, voided by an edit of its change).
ALTER TABLE requests ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';

CREATE INDEX requests_by_change ON requests (change_id, status);

-- The user handle passkeys are registered under: random, so it names nobody to an authenticator.
ALTER TABLE users ADD COLUMN passkey_handle TEXT;

CREATE TABLE passkeys (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The WebAuthn credential ID, base64url.
    credential_id TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    -- webauthn-rs's passkey as JSON: the public key and the signature counter.
    passkey       TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT
);

CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A ceremony between its start and its finish. It is used once: finishing deletes it.
CREATE TABLE webauthn_ceremonies (
    id            TEXT    PRIMARY KEY,
    user_id       BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT    NOT NULL CHECK (purpose IN ('register', 'sign_in', 'approve')),
    request_id    BIGINT  REFERENCES requests (id) ON DELETE CASCADE,
    -- For an approval: the digest of the change as the approver saw it, and the nonce mixed into
    -- the challenge.
    change_digest TEXT,
    nonce         TEXT,
    state         TEXT    NOT NULL,
    expires_at    BIGINT  NOT NULL
);

-- One vote per approver and request. `assertion` holds everything needed to check the signature
-- again without this row: credential ID, public key, authenticator data, client data JSON,
-- signature, nonce. An edit of the change voids the votes on it.
CREATE TABLE decisions (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    BIGINT  NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    approver_id   BIGINT  NOT NULL REFERENCES users (id),
    decision      TEXT    NOT NULL CHECK (decision IN ('approved', 'disapproved')),
    comment       TEXT    NOT NULL DEFAULT '',
    change_digest TEXT    NOT NULL,
    assertion     TEXT,
    decided_at    BIGINT  NOT NULL,
    voided_at     BIGINT,
    UNIQUE (request_id, approver_id)
);

CREATE TABLE notifications (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    -- JSON: what the notice is about (request, change, who, decision).
    payload      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    read_at      BIGINT
);

CREATE INDEX notifications_by_recipient ON notifications (recipient_id, id);

-- E-mails and webhook calls waiting to go out, tried again with growing pauses until sent or
-- given up. Any replica may send them.
CREATE TABLE deliveries (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- An e-mail address or the webhook URL.
    target          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
