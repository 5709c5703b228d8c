-- Calls the agent places: one row per attempt, written before anything is dialled. A row is
-- dialled only by the instance that moved it from queued to dialling; its lease says that
-- instance is alive, and an attempt whose lease ran out ends interrupted (never redialled).
CREATE TABLE outbound_calls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    phone           TEXT NOT NULL,
    script          TEXT NOT NULL,
    variables       TEXT NOT NULL DEFAULT '{}',
    requested_by    INTEGER,
    chat_id         INTEGER,
    status          TEXT NOT NULL DEFAULT 'queued',
    reason          TEXT,
    outcome         TEXT,
    call_id         INTEGER REFERENCES calls (id),
    lease_owner     TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    dial_started_at INTEGER,
    answered_at     INTEGER,
    ended_at        INTEGER
);
CREATE INDEX outbound_calls_active ON outbound_calls (status)
    WHERE status IN ('dialling', 'ringing', 'talking');
