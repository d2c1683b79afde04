-- depends: 0008_call_outcome_transfer_failed
-- The caller's way through (issue 13): the first moment in a queue (the queue's and the
-- whole wait count from it, across the fallback chain), why the queue gave the caller
-- up ('waited', 'nobody', 'full') and the fallback steps taken, [{step, at}].
ALTER TABLE calls ADD COLUMN queued_at timestamptz;
ALTER TABLE calls ADD COLUMN fallback_reason text;
ALTER TABLE calls ADD COLUMN fallback jsonb NOT NULL DEFAULT '[]'::jsonb;
