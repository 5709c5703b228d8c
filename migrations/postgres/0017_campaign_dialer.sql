-- The campaign dialer: an attempt knows its contact; a contact keeps what its last conversation
-- came to (for the status, the KPIs and the export); a campaign keeps its own retry policy and
-- calling schedule and the chat message that shows its progress.
ALTER TABLE outbound_calls ADD COLUMN campaign_contact_id BIGINT REFERENCES campaign_contacts (id);
CREATE INDEX outbound_calls_open ON outbound_calls (status)
    WHERE status IN ('queued', 'dialling', 'ringing', 'talking');

ALTER TABLE campaign_contacts ADD COLUMN stage TEXT;
ALTER TABLE campaign_contacts ADD COLUMN objections BIGINT;
ALTER TABLE campaign_contacts ADD COLUMN duration_ms BIGINT;
ALTER TABLE campaign_contacts ADD COLUMN callback TEXT;
ALTER TABLE campaign_contacts ADD COLUMN captured TEXT;
ALTER TABLE campaign_contacts ADD COLUMN call_id BIGINT;
ALTER TABLE campaign_contacts ADD COLUMN last_at TIMESTAMPTZ;
-- Due contacts: those waiting with a time, soonest first; those never tried, in file order.
CREATE INDEX campaign_contacts_due ON campaign_contacts (campaign_id, next_at)
    WHERE state IN ('pending', 'retry') AND next_at IS NOT NULL;
CREATE INDEX campaign_contacts_fresh ON campaign_contacts (campaign_id, id)
    WHERE state = 'pending' AND next_at IS NULL;
-- Contacts with an attempt out (few at any time), for settling the ones left behind.
CREATE INDEX campaign_contacts_calling ON campaign_contacts (outbound_id) WHERE state = 'calling';

ALTER TABLE campaigns ADD COLUMN retries BIGINT NOT NULL DEFAULT 2;
ALTER TABLE campaigns ADD COLUMN retry_min BIGINT NOT NULL DEFAULT 30;
ALTER TABLE campaigns ADD COLUMN call_window TEXT NOT NULL DEFAULT '09:00-20:00';
ALTER TABLE campaigns ADD COLUMN days TEXT NOT NULL DEFAULT 'пн-пт';
ALTER TABLE campaigns ADD COLUMN voicemail_retries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN screened_retries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN status_message_id INTEGER;
ALTER TABLE campaigns ADD COLUMN finished_at TIMESTAMPTZ;
