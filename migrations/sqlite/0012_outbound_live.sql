-- Steering a call under way from any instance: the status message in the chat that started it,
-- a hang-up request its owner picks up, the manager's hints for the agent, and the live
-- transcript (written line by line as the call runs).
ALTER TABLE outbound_calls ADD COLUMN status_message_id INTEGER;
ALTER TABLE outbound_calls ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbound_calls_message ON outbound_calls (chat_id, status_message_id);
CREATE TABLE outbound_hints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbound_id INTEGER NOT NULL REFERENCES outbound_calls (id),
    text        TEXT NOT NULL,
    created_by  INTEGER,
    created_at  INTEGER NOT NULL,
    taken_at    INTEGER
);
CREATE INDEX outbound_hints_pending ON outbound_hints (outbound_id) WHERE taken_at IS NULL;
CREATE TABLE outbound_lines (
    outbound_id INTEGER NOT NULL REFERENCES outbound_calls (id),
    seq         INTEGER NOT NULL,
    speaker     TEXT NOT NULL,
    text        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (outbound_id, seq)
);
