-- callops schema, SQLite backend. Job times are Unix milliseconds; other times are RFC 3339 text
-- written by the application.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 5,
    run_after       INTEGER NOT NULL,
    lease_until     INTEGER,
    lease_token     TEXT,
    last_error      TEXT,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE UNIQUE INDEX jobs_kind_idempotency ON jobs (kind, idempotency_key);
CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE calls (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    provider         TEXT NOT NULL,
    provider_call_id TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    caller           TEXT NOT NULL,
    called           TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    duration_secs    INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'new',
    reason           TEXT,
    recording_ref    TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (provider, provider_call_id)
);
CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_status ON calls (status);

CREATE TABLE utterances (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id  INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    speaker  TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    text     TEXT NOT NULL,
    UNIQUE (call_id, seq)
);

CREATE TABLE analyses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id         INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    profile         TEXT NOT NULL,
    result          TEXT NOT NULL,
    lead_category   TEXT,
    interest_rating INTEGER,
    priority        TEXT,
    agency_name     TEXT,
    model           TEXT,
    is_current      INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL
);
CREATE INDEX analyses_call ON analyses (call_id) WHERE is_current = 1;
CREATE INDEX analyses_category ON analyses (lead_category) WHERE is_current = 1;

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id     INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    analysis_id INTEGER REFERENCES analyses (id) ON DELETE SET NULL,
    user_id     INTEGER NOT NULL,
    user_name   TEXT,
    choice      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX feedback_call ON feedback (call_id);

CREATE TABLE telegram_posts (
    post_key    TEXT PRIMARY KEY,
    call_id     INTEGER REFERENCES calls (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    extra_ids   TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX telegram_posts_call ON telegram_posts (call_id);

CREATE TABLE token_usage (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id           INTEGER REFERENCES calls (id) ON DELETE SET NULL,
    purpose           TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL
);
CREATE INDEX token_usage_created ON token_usage (created_at);

CREATE TABLE provider_cursors (
    provider   TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE users (
    telegram_id INTEGER PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'manager', 'admin')),
    name        TEXT,
    added_by    INTEGER,
    created_at  TEXT NOT NULL
);

CREATE TABLE chat_settings (
    chat_id     INTEGER PRIMARY KEY,
    language    TEXT,
    timezone    TEXT NOT NULL DEFAULT 'Europe/Moscow',
    digest_time TEXT,
    settings    TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);
