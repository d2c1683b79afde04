DROP INDEX contacts_by_update;
DROP INDEX calls_by_update;
DROP INDEX calls_by_e164;
ALTER TABLE calls DROP COLUMN updated_at;
ALTER TABLE calls DROP COLUMN note;
ALTER TABLE calls DROP COLUMN answered_by;
ALTER TABLE calls DROP COLUMN caller_e164;
