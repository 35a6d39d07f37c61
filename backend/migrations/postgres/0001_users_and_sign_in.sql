-- Times are milliseconds since the Unix epoch (BIGINT), the same on both databases.

CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT   NOT NULL CHECK (role IN ('admin', 'planner', 'auditor')),
    PRIMARY KEY (user_id, role)
);

-- Browser sign-in sessions; only a SHA-256 of the cookie's token is stored.
CREATE TABLE web_sessions (
    token_hash   TEXT   PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    client_ip    TEXT   NOT NULL,
    user_agent   TEXT   NOT NULL
);

CREATE INDEX web_sessions_by_user ON web_sessions (user_id);

-- Failed sign-ins per username, to slow down guessing on every replica alike.
CREATE TABLE login_throttle (
    username        TEXT   PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL
);
