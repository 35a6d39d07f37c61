-- Devices and the accounts on them. A credential's secret is sealed by the vault (never stored
-- in clear) and names the master key that sealed it.
CREATE TABLE devices (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT    NOT NULL UNIQUE,
    host                 TEXT    NOT NULL,
    port                 BIGINT  NOT NULL DEFAULT 22 CHECK (port BETWEEN 1 AND 65535),
    host_key_fingerprint TEXT    NOT NULL,
    tags                 TEXT    NOT NULL DEFAULT '[]',
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

CREATE TABLE credentials (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id  BIGINT  NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    username   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('password', 'private_key')),
    secret     TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    UNIQUE (device_id, username)
);
