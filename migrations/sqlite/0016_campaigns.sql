-- Calling campaigns and their contacts. A contact's state is durable: pending → calling → done |
-- retry (at next_at) | exhausted | skipped; `outbound_id` is the attempt written before its dial.
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    scripts     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'paused',
    chat_id     INTEGER,
    created_by  INTEGER,
    zone        TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    priority    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE campaign_contacts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    line        INTEGER NOT NULL,
    phone       TEXT NOT NULL,
    variables   TEXT NOT NULL DEFAULT '{}',
    zone        TEXT,
    consent     TEXT,
    source      TEXT,
    variant     INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending',
    skip_reason TEXT,
    outcome     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER,
    outbound_id INTEGER REFERENCES outbound_calls (id),
    UNIQUE (campaign_id, phone)
);
CREATE INDEX campaign_contacts_state ON campaign_contacts (campaign_id, state);
