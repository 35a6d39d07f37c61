-- Requests to run a change on a device, and the terminal sessions run under them. A request is
-- approved by its group's approvers (the decisions come with the approval flow); the session gate
-- reads only the approved ones.
CREATE TABLE requests (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id     TEXT    NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    credential_id BIGINT  NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    requester_id  BIGINT  NOT NULL REFERENCES users (id),
    justification TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'disapproved',
                      'expired', 'cancelled')),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE INDEX requests_by_requester ON requests (requester_id, status);

-- A session outlives its credential and keeps the names it ran under. `status` is `running`
-- until it ends; a running session whose heartbeat stopped (its server died) reads as
-- interrupted. The recording is named in the recording store; its digest is set at the end.
CREATE TABLE terminal_sessions (
    id                     BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                BIGINT  NOT NULL REFERENCES users (id),
    credential_id          BIGINT  REFERENCES credentials (id) ON DELETE SET NULL,
    device_id              BIGINT  NOT NULL REFERENCES devices (id),
    device_name            TEXT    NOT NULL,
    account                TEXT    NOT NULL,
    change_id              TEXT    REFERENCES changes (id),
    request_id             BIGINT  REFERENCES requests (id) ON DELETE SET NULL,
    client_ip              TEXT    NOT NULL,
    user_agent             TEXT    NOT NULL DEFAULT '',
    recording              TEXT    NOT NULL,
    cols                   BIGINT  NOT NULL,
    rows                   BIGINT  NOT NULL,
    started_at             BIGINT  NOT NULL,
    heartbeat_at           BIGINT  NOT NULL,
    closes_at              BIGINT  NOT NULL,
    status                 TEXT    NOT NULL CHECK (status IN ('running', 'ended')),
    ended_at               BIGINT,
    end_reason             TEXT,
    recording_sha256       TEXT,
    recording_bytes        BIGINT,
    score                  BIGINT,
    verdict                TEXT,
    terminate_requested_by BIGINT  REFERENCES users (id)
);

CREATE INDEX terminal_sessions_by_status ON terminal_sessions (status, started_at);
CREATE INDEX terminal_sessions_by_user ON terminal_sessions (user_id, started_at);

CREATE TABLE session_commands (
    session_id BIGINT NOT NULL REFERENCES terminal_sessions (id),
    seq        BIGINT NOT NULL,
    command    TEXT   NOT NULL,
    -- Microseconds from the start of the recording to the moment Enter was pressed.
    offset_us  BIGINT NOT NULL,
    exit_code  BIGINT,
    source     TEXT   NOT NULL CHECK (source IN ('shell_integration', 'screen')),
    PRIMARY KEY (session_id, seq)
);
