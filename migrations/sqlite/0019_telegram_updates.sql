-- Telegram updates seen, by update_id (see the PostgreSQL migration): each update is handled once
-- even when Telegram delivers it again. Rows older than two days are pruned.
CREATE TABLE telegram_updates (
    update_id INTEGER PRIMARY KEY,
    seen_at   INTEGER NOT NULL
);
CREATE INDEX telegram_updates_seen ON telegram_updates (seen_at);
