-- depends: 0013_callbacks
-- The member rung for a callback's latest attempt (issue 14). While a callback is
-- dialling or connected its member is taken: one member, one callback at a time, across
-- every service instance on the PBX (PostgreSQL is their coordination: a second
-- instance's claim for the same member fails on this index, and it tries the next).
ALTER TABLE callbacks ADD COLUMN member text NOT NULL DEFAULT ''
    CHECK (member ~ '^[A-Za-z0-9_.-]{0,80}$');
CREATE UNIQUE INDEX callbacks_member_busy ON callbacks (pbx, member)
    WHERE state IN ('dialling', 'connected') AND member <> '';
