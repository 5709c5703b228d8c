-- The current analysis, the latest feedback and the first post time, kept on the call itself so
-- lists, stats and charts over a period read one table through its date index.
ALTER TABLE calls ADD COLUMN profile TEXT;
ALTER TABLE calls ADD COLUMN lead_category TEXT;
ALTER TABLE calls ADD COLUMN interest_rating INTEGER;
ALTER TABLE calls ADD COLUMN priority TEXT;
ALTER TABLE calls ADD COLUMN agency_name TEXT;
ALTER TABLE calls ADD COLUMN last_feedback TEXT;
ALTER TABLE calls ADD COLUMN posted_at TEXT;

UPDATE calls SET
    profile = (SELECT a.profile FROM analyses a WHERE a.call_id = calls.id AND a.is_current = 1 ORDER BY a.id DESC LIMIT 1),
    lead_category = (SELECT a.lead_category FROM analyses a WHERE a.call_id = calls.id AND a.is_current = 1 ORDER BY a.id DESC LIMIT 1),
    interest_rating = (SELECT a.interest_rating FROM analyses a WHERE a.call_id = calls.id AND a.is_current = 1 ORDER BY a.id DESC LIMIT 1),
    priority = (SELECT a.priority FROM analyses a WHERE a.call_id = calls.id AND a.is_current = 1 ORDER BY a.id DESC LIMIT 1),
    agency_name = (SELECT a.agency_name FROM analyses a WHERE a.call_id = calls.id AND a.is_current = 1 ORDER BY a.id DESC LIMIT 1),
    last_feedback = (SELECT f.choice FROM feedback f WHERE f.call_id = calls.id ORDER BY f.id DESC LIMIT 1),
    posted_at = (SELECT MIN(p.created_at) FROM telegram_posts p WHERE p.call_id = calls.id AND p.kind = 'protocol');

CREATE INDEX calls_category_started ON calls (lead_category, started_at);
