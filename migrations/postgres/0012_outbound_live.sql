-- Steering a call under way from any instance: the status message in the chat that started it,
-- a hang-up request its owner picks up, the manager's hints for the agent, and the live
-- transcript (written line by line as the call runs).
ALTER TABLE outbound_calls ADD COLUMN status_message_id INTEGER;
ALTER TABLE outbound_calls ADD COLUMN stop_requested BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX outbound_calls_message ON outbound_calls (chat_id, status_message_id);
CREATE TABLE outbound_hints (
    id          BIGSERIAL PRIMARY KEY,
    outbound_id BIGINT NOT NULL REFERENCES outbound_calls (id),
    text        TEXT NOT NULL,
    created_by  BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    taken_at    TIMESTAMPTZ
);
CREATE INDEX outbound_hints_pending ON outbound_hints (outbound_id) WHERE taken_at IS NULL;
CREATE TABLE outbound_lines (
    outbound_id BIGINT NOT NULL REFERENCES outbound_calls (id),
    seq         INTEGER NOT NULL,
    speaker     TEXT NOT NULL,
    text        TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    PRIMARY KEY (outbound_id, seq)
);
