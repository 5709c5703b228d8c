-- Running Telegram rehearsals, so a restart does not end them.
CREATE TABLE rehearsals (
    chat_id BIGINT PRIMARY KEY,
    session JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
