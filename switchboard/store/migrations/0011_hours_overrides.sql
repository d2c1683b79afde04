-- depends: 0010_call_fallback 0009_queue_members
-- A receptionist or admin closes the line now (or opens it) with a reason and an end
-- time: "closed for the staff meeting until 14:00". Every override is kept, with who
-- made it and who ended it early: the log of who decided what.
CREATE TABLE hours_overrides (
    id bigserial PRIMARY KEY,
    schedule text NOT NULL CHECK (length(schedule) BETWEEN 1 AND 64),
    open boolean NOT NULL,
    reason text NOT NULL CHECK (length(reason) <= 120),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    made_by text NOT NULL,
    ended_early_at timestamptz,
    ended_early_by text
);
CREATE INDEX hours_overrides_current ON hours_overrides (schedule, ends_at DESC);
