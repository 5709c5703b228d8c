-- The current analysis, the latest feedback and the first post time, kept on the call itself so
-- lists, stats and charts over a period read one table through its date index.
ALTER TABLE calls ADD COLUMN profile TEXT;
ALTER TABLE calls ADD COLUMN lead_category TEXT;
ALTER TABLE calls ADD COLUMN interest_rating INTEGER;
ALTER TABLE calls ADD COLUMN priority TEXT;
ALTER TABLE calls ADD COLUMN agency_name TEXT;
ALTER TABLE calls ADD COLUMN last_feedback TEXT;
ALTER TABLE calls ADD COLUMN posted_at TIMESTAMPTZ;

UPDATE calls c SET
    profile = a.profile, lead_category = a.lead_category, interest_rating = a.interest_rating,
    priority = a.priority, agency_name = a.agency_name
FROM analyses a WHERE a.call_id = c.id AND a.is_current;
UPDATE calls c SET last_feedback = (SELECT f.choice FROM feedback f WHERE f.call_id = c.id ORDER BY f.id DESC LIMIT 1);
UPDATE calls c SET posted_at = (SELECT MIN(p.created_at) FROM telegram_posts p WHERE p.call_id = c.id AND p.kind = 'protocol');

CREATE INDEX calls_category_started ON calls (lead_category, started_at);
