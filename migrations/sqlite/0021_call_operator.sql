-- The operator of a call as its PBX names them (an extension, or an operator id): protocols
-- name them, departments route by them.
ALTER TABLE calls ADD COLUMN operator TEXT;
