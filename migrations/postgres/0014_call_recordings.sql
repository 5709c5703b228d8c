-- Recordings the service made itself (calls the agent placed: stereo, agent left, callee right),
-- kept with the call so any instance can attach them to the protocol.
CREATE TABLE call_recordings (
    call_id      BIGINT PRIMARY KEY REFERENCES calls (id),
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
