-- Telegram updates seen, by update_id. Telegram delivers an update again when our answer did not
-- reach it (a webhook instance killed mid-request; a long-polling leader killed before its next
-- getUpdates confirmed the offset), and another instance may receive it: each update is handled
-- by the first instance to record it. Rows older than two days are pruned.
CREATE TABLE telegram_updates (
    update_id BIGINT PRIMARY KEY,
    seen_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX telegram_updates_seen ON telegram_updates (seen_at);
