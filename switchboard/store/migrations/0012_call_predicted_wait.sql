-- depends: 0011_hours_overrides
-- The wait a caller was last told to expect (issue 13), as the whole wait from queued_at
-- in seconds, beside the real one (answered_at - queued_at): how often a promise broke.
ALTER TABLE calls ADD COLUMN predicted_wait_s double precision;
-- The board asks for today's figure every minute: only the announced calls, by answer.
CREATE INDEX calls_announced_by_answer ON calls (answered_at) WHERE predicted_wait_s IS NOT NULL;
