-- depends: 0003_call_history
-- Presence timeline: every change of what the board shows for an extension (phone
-- state, DND, a receptionist-set status with note and return time, who they talk with),
-- so "was Pieter on DND at 14:05?" has an answer.

CREATE TABLE presence_log (
    id bigserial PRIMARY KEY,
    pbx text NOT NULL,
    extension text NOT NULL,
    at timestamptz NOT NULL,
    shown text NOT NULL,          -- available, dnd, away, in_use, ringing, on_hold, unavailable, removed
    device text NOT NULL,
    presence text NOT NULL,
    note text NOT NULL DEFAULT '',
    until text NOT NULL DEFAULT '',
    talking_with text NOT NULL DEFAULT ''
);
CREATE INDEX presence_log_by_extension ON presence_log (pbx, extension, at DESC);
