-- callops schema, PostgreSQL backend.

CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         JSONB NOT NULL DEFAULT '{}'::jsonb,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 5,
    run_after       TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until     TIMESTAMPTZ,
    lease_token     UUID,
    last_error      TEXT,
    idempotency_key TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX jobs_kind_idempotency ON jobs (kind, idempotency_key);
CREATE INDEX jobs_ready ON jobs (run_after, id) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

CREATE TABLE calls (
    id               BIGSERIAL PRIMARY KEY,
    provider         TEXT NOT NULL,
    provider_call_id TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    caller           TEXT NOT NULL,
    called           TEXT NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    duration_secs    BIGINT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'new',
    reason           TEXT,
    recording_ref    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_call_id)
);
CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_status ON calls (status);

CREATE TABLE utterances (
    id       BIGSERIAL PRIMARY KEY,
    call_id  BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    speaker  TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms   BIGINT NOT NULL,
    text     TEXT NOT NULL,
    UNIQUE (call_id, seq)
);

CREATE TABLE analyses (
    id              BIGSERIAL PRIMARY KEY,
    call_id         BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    profile         TEXT NOT NULL,
    result          JSONB NOT NULL,
    lead_category   TEXT,
    interest_rating INTEGER,
    priority        TEXT,
    agency_name     TEXT,
    model           TEXT,
    is_current      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX analyses_call ON analyses (call_id) WHERE is_current;
CREATE INDEX analyses_category ON analyses (lead_category) WHERE is_current;

CREATE TABLE feedback (
    id          BIGSERIAL PRIMARY KEY,
    call_id     BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    analysis_id BIGINT REFERENCES analyses (id) ON DELETE SET NULL,
    user_id     BIGINT NOT NULL,
    user_name   TEXT,
    choice      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feedback_call ON feedback (call_id);

CREATE TABLE telegram_posts (
    post_key    TEXT PRIMARY KEY,
    call_id     BIGINT REFERENCES calls (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    chat_id     BIGINT NOT NULL,
    message_id  INTEGER NOT NULL,
    extra_ids   TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX telegram_posts_call ON telegram_posts (call_id);

CREATE TABLE token_usage (
    id                BIGSERIAL PRIMARY KEY,
    call_id           BIGINT REFERENCES calls (id) ON DELETE SET NULL,
    purpose           TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX token_usage_created ON token_usage (created_at);

CREATE TABLE provider_cursors (
    provider   TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    telegram_id BIGINT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'manager', 'admin')),
    name        TEXT,
    added_by    BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE chat_settings (
    chat_id     BIGINT PRIMARY KEY,
    language    TEXT,
    timezone    TEXT NOT NULL DEFAULT 'Europe/Moscow',
    digest_time TEXT,
    settings    JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
