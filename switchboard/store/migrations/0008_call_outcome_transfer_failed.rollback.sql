-- The older schema has no word for it: the call was answered.
UPDATE calls SET outcome = 'answered' WHERE outcome = 'transfer failed';
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check CHECK (
    outcome IN ('answered', 'transferred', 'abandoned', 'missed', 'parked', 'merged')
);
