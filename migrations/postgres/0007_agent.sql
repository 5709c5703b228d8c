-- The live voice agent: per-turn timings, where a call's protocol goes, the do-not-call list.
CREATE TABLE agent_turns (
    call_id BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    caller_end_ms BIGINT NOT NULL,
    stt_done_ms BIGINT,
    llm_first_token_ms BIGINT,
    first_sentence_ms BIGINT,
    tts_first_byte_ms BIGINT,
    first_audio_ms BIGINT,
    barge_in_ms BIGINT,
    PRIMARY KEY (call_id, turn)
);

CREATE TABLE call_chats (
    call_id BIGINT PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
    chat_id BIGINT NOT NULL
);

CREATE TABLE do_not_call (
    phone TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
