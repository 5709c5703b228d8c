-- Which speech vendors served each agent turn and how much they did (per-vendor figures and cost
-- in /stats).
ALTER TABLE agent_turns ADD COLUMN stt_vendor TEXT;
ALTER TABLE agent_turns ADD COLUMN speech_ms INTEGER;
ALTER TABLE agent_turns ADD COLUMN stt_fallback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_turns ADD COLUMN tts_vendor TEXT;
ALTER TABLE agent_turns ADD COLUMN tts_chars INTEGER;
