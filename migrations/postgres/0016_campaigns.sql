-- Calling campaigns and their contacts. A contact's state is durable: pending → calling → done |
-- retry (at next_at) | exhausted | skipped; `outbound_id` is the attempt written before its dial.
CREATE TABLE campaigns (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    scripts     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'paused',
    chat_id     BIGINT,
    created_by  BIGINT,
    zone        TEXT NOT NULL,
    concurrency BIGINT NOT NULL,
    priority    BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE campaign_contacts (
    id          BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    line        BIGINT NOT NULL,
    phone       TEXT NOT NULL,
    variables   TEXT NOT NULL DEFAULT '{}',
    zone        TEXT,
    consent     TEXT,
    source      TEXT,
    variant     BIGINT NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending',
    skip_reason TEXT,
    outcome     TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     TIMESTAMPTZ,
    outbound_id BIGINT REFERENCES outbound_calls (id),
    UNIQUE (campaign_id, phone)
);
CREATE INDEX campaign_contacts_state ON campaign_contacts (campaign_id, state);
