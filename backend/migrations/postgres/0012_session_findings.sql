-- What a session's shell-integration marks said that its input does not bear out: a mark no
-- keystroke explains, one without the session's nonce, a second status for one command, or a
-- line other than the screen shows. Each is also an event of the trail.
CREATE TABLE session_findings (
    session_id BIGINT NOT NULL REFERENCES terminal_sessions (id),
    seq        BIGINT NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('forged_mark', 'disagreement')),
    -- Microseconds from the start of the recording to where the mark was printed.
    offset_us  BIGINT NOT NULL,
    mark       TEXT   NOT NULL,
    detail     TEXT   NOT NULL,
    PRIMARY KEY (session_id, seq)
);
