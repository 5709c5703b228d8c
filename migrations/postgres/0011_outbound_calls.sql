-- Calls the agent places: one row per attempt, written before anything is dialled. A row is
-- dialled only by the instance that moved it from queued to dialling; its lease says that
-- instance is alive, and an attempt whose lease ran out ends interrupted (never redialled).
CREATE TABLE outbound_calls (
    id              BIGSERIAL PRIMARY KEY,
    phone           TEXT NOT NULL,
    script          TEXT NOT NULL,
    variables       JSONB NOT NULL DEFAULT '{}',
    requested_by    BIGINT,
    chat_id         BIGINT,
    status          TEXT NOT NULL DEFAULT 'queued',
    reason          TEXT,
    outcome         TEXT,
    call_id         BIGINT REFERENCES calls (id),
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    dial_started_at TIMESTAMPTZ,
    answered_at     TIMESTAMPTZ,
    ended_at        TIMESTAMPTZ
);
CREATE INDEX outbound_calls_active ON outbound_calls (status)
    WHERE status IN ('dialling', 'ringing', 'talking');
