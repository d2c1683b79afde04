-- depends: 0003_call_history
-- How each call went, for the contact's history: its direction, the queue it came
-- through, transfers, parking, an outcome, and for a missed or abandoned call whether
-- and by whom it was called back.
--
-- caller_e164 is the outside party's number: the caller's for an inbound call, the
-- dialled number's for an answered outbound call (so a call-back is a contact moment
-- too, and recognition sees that somebody spoke with them since they were missed).
-- Internal calls, and outbound calls nobody answered, have none.

ALTER TABLE calls ADD COLUMN direction text NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound', 'internal'));
ALTER TABLE calls ADD COLUMN dialled text;
ALTER TABLE calls ADD COLUMN via_queue text;
-- [{"kind": "blind"|"attended", "by": "100", "to": "201", "at": epoch seconds}, ...]
ALTER TABLE calls ADD COLUMN transfers jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(transfers) = 'array');
ALTER TABLE calls ADD COLUMN parked_space text;
ALTER TABLE calls ADD COLUMN parked_by text;
ALTER TABLE calls ADD COLUMN picked_up_by text;
-- busy, no answer, unavailable: why a phone it rang did not take it
ALTER TABLE calls ADD COLUMN unanswered_reason text;
-- NULL while the call is up (and for calls journalled before this migration)
ALTER TABLE calls ADD COLUMN outcome text
    CHECK (outcome IN ('answered', 'transferred', 'abandoned', 'missed', 'parked', 'merged'));
ALTER TABLE calls ADD COLUMN called_back_at timestamptz;
ALTER TABLE calls ADD COLUMN called_back_by text;
ALTER TABLE calls ADD COLUMN called_back_call text;
