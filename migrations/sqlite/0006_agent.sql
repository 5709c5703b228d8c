-- The live voice agent: per-turn timings, where a call's protocol goes, the do-not-call list.
CREATE TABLE agent_turns (
    call_id INTEGER NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    caller_end_ms INTEGER NOT NULL,
    stt_done_ms INTEGER,
    llm_first_token_ms INTEGER,
    first_sentence_ms INTEGER,
    tts_first_byte_ms INTEGER,
    first_audio_ms INTEGER,
    barge_in_ms INTEGER,
    PRIMARY KEY (call_id, turn)
);

CREATE TABLE call_chats (
    call_id INTEGER PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    chat_id INTEGER NOT NULL
);

CREATE TABLE do_not_call (
    phone TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
