-- Who picked up an outbound call, as the agent told in its first seconds: human, voicemail,
-- ivr, screener or uncertain (campaign retries and reports use it).
ALTER TABLE outbound_calls ADD COLUMN answered_by TEXT;
