DROP INDEX callbacks_member_busy;
ALTER TABLE callbacks DROP COLUMN member;
