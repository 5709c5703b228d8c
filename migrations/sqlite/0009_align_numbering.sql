-- No schema change. PostgreSQL's 0006 (claim indexes) had no SQLite counterpart, so the SQLite
-- migrations ran one number behind. This one brings them level: from 0010 on, a migration has the
-- same number in both backends (tests/migrations.rs checks it).
SELECT 1;
