-- Running Telegram rehearsals, so a restart does not end them.
CREATE TABLE rehearsals (
    chat_id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
