-- depends: 0014_callback_member
-- Issue 15: nothing falls between two stools.
--
-- Service levels from the journal. When a call ends the journal stores how it counts
-- (switchboard.core.service_level.classify): 'answered' (by anybody, after any fallback
-- step), 'abandoned' (the caller hung up unanswered), 'sent on' (the fallback chain ended
-- it unanswered: voicemail, a callback request, goodbye), with its wait in seconds from
-- the first moment in a queue. Calls that never queued (closed, direct to a phone) have
-- none and do not count. The thresholds (answered within 15 s, abandons under 5 s) are
-- the report's, applied to sl_wait_s, so a site can change them over its whole history.
ALTER TABLE calls ADD COLUMN sl_kind text
    CHECK (sl_kind IN ('answered', 'abandoned', 'sent on'));
ALTER TABLE calls ADD COLUMN sl_wait_s double precision CHECK (sl_wait_s >= 0);
-- The report counts calls by the interval of their first moment in a queue. Everything
-- it reads of a call is in this index, so a year of journal is an index-only scan of the
-- interval asked (bench/report.py).
CREATE INDEX calls_service_level ON calls (queued_at)
    INCLUDE (sl_kind, sl_wait_s, via_queue, predicted_wait_s)
    WHERE sl_kind IS NOT NULL;

-- The board's old "announced waits overrun today" (by answer) is one of today's figures
-- now, counted like the others by the first moment in a queue.
DROP INDEX calls_announced_by_answer;

-- When a callback reached its caller (the caller accepted), for the callback speed.
ALTER TABLE callbacks ADD COLUMN reached_at timestamptz;
CREATE INDEX callbacks_by_request ON callbacks (requested_at);

-- The missed-call worklist: one open item per caller number and queue group (the queue
-- they came through; '' when they reached no queue). A withheld caller has nothing to call
-- back: those calls gather in the group's item with no number (counted, never dialled).
-- Items never expire; they resolve by themselves (the caller called again and was
-- answered, somebody talked with the number for 10 s or more, a callback reached them) or
-- by a receptionist's outcome. A receptionist claims one under a lease (claimed_by,
-- claim_until): PostgreSQL decides, so two service instances agree on who holds it.
CREATE TABLE worklist_items (
    id bigserial PRIMARY KEY,
    e164 text CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    -- Any name Asterisk gives a queue (a space, a letter of any alphabet): a refused
    -- name would stop the journal's transaction, and every call behind it.
    queue_group text NOT NULL CHECK (char_length(queue_group) <= 80),
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    opened_at timestamptz NOT NULL,
    last_attempt_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claimed_by text,
    claim_until timestamptz,
    outcome text CHECK (outcome IN ('helped', 'passed on', 'no answer', 'voicemail',
                                    'wrong number', 'seen')),
    note text NOT NULL DEFAULT '' CHECK (char_length(note) <= 2000),
    resolved_at timestamptz,
    resolved_how text NOT NULL DEFAULT '' CHECK (char_length(resolved_how) <= 200),
    resolved_by text NOT NULL DEFAULT '',
    resolved_call text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((claimed_by IS NULL) = (claim_until IS NULL)),
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX worklist_one_open ON worklist_items (coalesce(e164, ''), lower(queue_group))
    WHERE state = 'open';
CREATE INDEX worklist_by_number ON worklist_items (e164) WHERE state = 'open';
CREATE INDEX worklist_recent ON worklist_items (resolved_at) WHERE state = 'resolved';

-- Every call that added to an item: a missed or abandoned call, or a callback that did
-- not reach its caller. One row per call (the journal may write an ended call again).
CREATE TABLE worklist_attempts (
    item_id bigint NOT NULL REFERENCES worklist_items ON DELETE CASCADE,
    pbx text NOT NULL,
    call_ref text NOT NULL,         -- the call's linked id, or 'callback:<id>'
    kind text NOT NULL CHECK (kind IN ('abandoned', 'missed', 'callback not reached')),
    at timestamptz NOT NULL,
    waited_s double precision NOT NULL DEFAULT 0,
    place integer NOT NULL DEFAULT 0,
    step text NOT NULL DEFAULT '',  -- the last fallback step it reached
    callback_attempts integer NOT NULL DEFAULT 0,  -- a callback's attempts, all failed
    PRIMARY KEY (pbx, call_ref)
);
CREATE INDEX worklist_attempts_of_item ON worklist_attempts (item_id, at);

-- What receptionists did with an item: claims, calls, outcomes, with their notes.
CREATE TABLE worklist_actions (
    item_id bigint NOT NULL REFERENCES worklist_items ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    by_user text NOT NULL,
    action text NOT NULL CHECK (action IN ('claimed', 'released', 'called', 'outcome')),
    outcome text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    call_ref text NOT NULL DEFAULT ''
);
CREATE INDEX worklist_actions_of_item ON worklist_actions (item_id, at);
