-- A job whose workers kept dying is given up through its handler's give-up step: `crashes` counts
-- expired leases, `give_up` holds the reason while that step is pending.
ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN give_up TEXT;

-- Side effects outside the process (a Telegram message, a SIP INVITE, a Sheets row), claimed
-- durably before they are attempted: 'started' until the result is stored ('done'). A 'started'
-- claim found by someone else means the effect is in doubt and is never repeated blindly.
CREATE TABLE effects (
    key         TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('started', 'done')),
    started_at  INTEGER NOT NULL,
    result      TEXT
);
