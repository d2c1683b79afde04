-- depends: 0008_call_outcome_transfer_failed
-- Who is a member of which queue, as receptionists and colleagues joined, left and
-- paused over the switchboard (AMI QueueAdd, QueueRemove, QueuePause). Asterisk forgets
-- dynamic members when it restarts (queues.conf: persistentmembers = no): the service
-- adds these back on every (re)connect. Static members (queues.conf) are not kept here.
-- The checks are switchboard/core/queue_membership.py's, whoever writes the row; 79
-- bytes is what Asterisk keeps of an interface, a member name and a pause reason.

CREATE TABLE queue_members (
    pbx text NOT NULL CHECK (pbx <> ''),
    queue text NOT NULL CHECK (queue ~ '^[A-Za-z0-9_.-]{1,79}$'),
    interface text NOT NULL CHECK (
        interface ~ '^(PJSIP/[A-Za-z0-9_.-]{1,64}|Local/[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+)$'
        AND octet_length(interface) <= 79
    ),
    member_name text NOT NULL DEFAULT '' CHECK (octet_length(member_name) <= 79),
    -- '' for the interface itself
    state_interface text NOT NULL DEFAULT '' CHECK (
        state_interface = ''
        OR (state_interface ~ '^(PJSIP/[A-Za-z0-9_.-]{1,64}|Local/[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+)$'
            AND octet_length(state_interface) <= 79)
    ),
    penalty integer NOT NULL DEFAULT 0 CHECK (penalty BETWEEN 0 AND 1000),
    paused boolean NOT NULL DEFAULT false,
    pause_reason text NOT NULL DEFAULT '' CHECK (
        octet_length(pause_reason) <= 79 AND (paused OR pause_reason = '')
    ),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pbx, queue, interface)
);
-- Asterisk matches queue names and interfaces without regard to case: "Support" and
-- "support" are one queue, so one row.
CREATE UNIQUE INDEX queue_members_one_per_member
    ON queue_members (pbx, lower(queue), lower(interface));

-- Every change, with who made it and when (the board shows it); kept when the member
-- leaves. confirmed: the PBX said it was done; false when the PBX was unavailable (a
-- join or pause is then applied when it reconnects).
CREATE TABLE queue_member_log (
    id bigserial PRIMARY KEY,
    pbx text NOT NULL,
    queue text NOT NULL,
    interface text NOT NULL,
    change text NOT NULL CHECK (change IN ('join', 'leave', 'pause', 'unpause')),
    reason text NOT NULL DEFAULT '',
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    confirmed boolean NOT NULL
);
CREATE INDEX queue_member_log_by_pbx ON queue_member_log (pbx, changed_at DESC, id DESC);
