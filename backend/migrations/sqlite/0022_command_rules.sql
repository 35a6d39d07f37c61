-- Command rules: admin-defined patterns checked at each Enter of every session, tried in
-- `position` order, the first match deciding (allow, block, alert, interrupt_after N tries).
CREATE TABLE command_rules (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    position     BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    pattern_kind TEXT    NOT NULL CHECK (pattern_kind IN ('words', 'regex')),
    pattern      TEXT    NOT NULL,
    action       TEXT    NOT NULL CHECK (action IN ('allow', 'block', 'alert', 'interrupt_after')),
    tries        BIGINT,
    criticality  TEXT    NOT NULL CHECK (criticality IN ('low', 'medium', 'high')),
    scope        TEXT    NOT NULL,
    enabled      BOOLEAN NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
