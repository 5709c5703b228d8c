-- Which speech vendors served each agent turn and how much they did (per-vendor figures and cost
-- in /stats).
ALTER TABLE agent_turns ADD COLUMN stt_vendor TEXT;
ALTER TABLE agent_turns ADD COLUMN speech_ms BIGINT;
ALTER TABLE agent_turns ADD COLUMN stt_fallback BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE agent_turns ADD COLUMN tts_vendor TEXT;
ALTER TABLE agent_turns ADD COLUMN tts_chars BIGINT;
