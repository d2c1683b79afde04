-- depends: 0007_contact_deletions
-- A call answered and then transferred to somebody who did not take it, with nobody
-- taking it after (a blind transfer to a busy phone on a dialplan that drops the caller).
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check CHECK (
    outcome IN ('answered', 'transferred', 'transfer failed', 'abandoned', 'missed', 'parked', 'merged')
);
