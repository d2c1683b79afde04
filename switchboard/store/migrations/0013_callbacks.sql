-- depends: 0012_call_predicted_wait
-- Callbacks (issue 14): a caller who asked to be called back keeps their place in the
-- queue as a virtual caller. This table is the state machine of every request
-- (switchboard/core/callbacks.py), and the coordination between service instances: work
-- is taken with SELECT ... FOR UPDATE SKIP LOCKED and held under a lease (lease_owner,
-- lease_until); a row's lease_owner must match to finish its attempt.
CREATE TABLE callbacks (
    id bigserial PRIMARY KEY,
    pbx text NOT NULL CHECK (pbx <> ''),
    queue text NOT NULL CHECK (queue ~ '^[A-Za-z0-9_.-]{1,79}$'),
    e164 text NOT NULL CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    name text NOT NULL DEFAULT '' CHECK (char_length(name) <= 120),
    subject text NOT NULL DEFAULT '' CHECK (char_length(subject) <= 200),
    language text NOT NULL DEFAULT 'nl' CHECK (language IN ('nl', 'en')),
    source text NOT NULL CHECK (source IN ('queue', 'web', 'board')),
    state text NOT NULL DEFAULT 'waiting' CHECK (
        state IN ('requested', 'waiting', 'dialling', 'connected', 'done', 'not reached',
                  'cancelled', 'expired')
    ),
    -- The caller's first moment in the queue: their place in line, kept across merges
    -- and retries.
    joined_at timestamptz NOT NULL,
    -- Not dialled before this (the next attempt, or the next opening).
    not_before timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts BETWEEN 0 AND 10),
    lease_owner text,
    lease_until timestamptz,
    linked_id text,               -- the call it was asked for in, if any
    requested_by text NOT NULL DEFAULT '',  -- the receptionist, for the board's
    requests integer NOT NULL DEFAULT 1,    -- how often it was asked for (merges)
    reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 200),
    requested_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('dialling', 'connected')) = (lease_owner IS NOT NULL AND lease_until IS NOT NULL))
);
-- One active callback per number and queue: a second request merges into it.
CREATE UNIQUE INDEX callbacks_one_active
    ON callbacks (pbx, lower(queue), e164)
    WHERE state IN ('requested', 'waiting', 'dialling', 'connected');
-- The line: waiting callbacks by their place.
CREATE INDEX callbacks_in_line ON callbacks (pbx, queue, joined_at, id) WHERE state = 'waiting';
CREATE INDEX callbacks_leases ON callbacks (lease_until) WHERE state IN ('dialling', 'connected');

-- Every attempt and how it ended, for the caller's history.
CREATE TABLE callback_attempts (
    callback_id bigint NOT NULL REFERENCES callbacks ON DELETE CASCADE,
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    owner text NOT NULL,
    member text NOT NULL DEFAULT '',
    result text,                  -- NULL while it runs
    ended_at timestamptz,
    PRIMARY KEY (callback_id, attempt)
);
