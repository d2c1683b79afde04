ALTER TABLE calls DROP COLUMN fallback;
ALTER TABLE calls DROP COLUMN fallback_reason;
ALTER TABLE calls DROP COLUMN queued_at;
