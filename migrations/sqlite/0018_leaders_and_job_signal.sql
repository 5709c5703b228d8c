-- Singleton work (see the PostgreSQL migration). An embedded database has one instance, which
-- always leads; the table keeps the two backends' contract the same. (No job signal: the
-- in-process waker is enough for one instance.)
CREATE TABLE leader_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    token       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    last_run_at INTEGER
);
