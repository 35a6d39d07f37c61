-- Access groups: who runs (executors) and who approves (approvers) what their credentials reach.
CREATE TABLE access_groups (
    id                          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                        TEXT    NOT NULL,
    description                 TEXT    NOT NULL DEFAULT '',
    justification_required      BOOLEAN NOT NULL DEFAULT FALSE,
    approvals_required          BIGINT  NOT NULL DEFAULT 1 CHECK (approvals_required >= 1),
    passkey_required_to_approve BOOLEAN NOT NULL DEFAULT TRUE,
    unplanned_sessions_allowed  BOOLEAN NOT NULL DEFAULT FALSE,
    -- A JSON array of program names.
    benign_commands             TEXT    NOT NULL,
    created_at                  BIGINT  NOT NULL,
    updated_at                  BIGINT  NOT NULL
);

-- Names and change IDs are unique whatever their case, as on SQLite.
CREATE UNIQUE INDEX access_groups_name ON access_groups (LOWER(name));

CREATE TABLE group_members (
    group_id BIGINT  NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    user_id  BIGINT  NOT NULL REFERENCES users (id),
    executor BOOLEAN NOT NULL,
    approver BOOLEAN NOT NULL,
    PRIMARY KEY (group_id, user_id),
    CHECK (executor OR approver)
);

CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE group_credentials (
    group_id      BIGINT NOT NULL REFERENCES access_groups (id) ON DELETE CASCADE,
    credential_id BIGINT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, credential_id)
);

-- Changes, keyed by the ID their planner chose. `expired` is not stored: it is read off the due
-- date, so no job has to run for a change to expire.
CREATE TABLE changes (
    id              TEXT    PRIMARY KEY,
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    start_at        BIGINT  NOT NULL,
    due_at          BIGINT  NOT NULL,
    access_group_id BIGINT  NOT NULL REFERENCES access_groups (id),
    script          TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('waiting_approval', 'approved', 'disapproved',
                        'cancelled', 'in_progress', 'executed', 'partially_executed')),
    author_id       BIGINT  NOT NULL REFERENCES users (id),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    updated_by      BIGINT  REFERENCES users (id),
    CHECK (due_at > start_at)
);

CREATE UNIQUE INDEX changes_id_any_case ON changes (LOWER(id));
CREATE INDEX changes_by_window ON changes (start_at, due_at);
CREATE INDEX changes_by_group ON changes (access_group_id);

CREATE TABLE change_devices (
    change_id TEXT   NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    device_id BIGINT NOT NULL REFERENCES devices (id),
    position  BIGINT NOT NULL,
    PRIMARY KEY (change_id, device_id)
);

CREATE INDEX change_devices_by_device ON change_devices (device_id);
