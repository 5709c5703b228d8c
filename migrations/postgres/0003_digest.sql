-- The local date of the last daily digest sent to a chat (sent once per day, even after a restart).
ALTER TABLE chat_settings ADD COLUMN last_digest TEXT;
