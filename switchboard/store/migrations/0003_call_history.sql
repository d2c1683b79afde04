-- depends: 0001_initial
-- Calls become contact history: who called (E.164, so every way of writing a number
-- matches), who answered, and when the row last changed (for incremental refresh of
-- the in-memory caller directory).

ALTER TABLE calls ADD COLUMN caller_e164 text;
ALTER TABLE calls ADD COLUMN answered_by text;
ALTER TABLE calls ADD COLUMN note text;
ALTER TABLE calls ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX calls_by_e164 ON calls (caller_e164, started_at DESC);
CREATE INDEX calls_by_update ON calls (updated_at);
CREATE INDEX contacts_by_update ON contacts (updated_at);
