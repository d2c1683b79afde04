DROP TABLE worklist_actions;
DROP TABLE worklist_attempts;
DROP TABLE worklist_items;
DROP INDEX callbacks_by_request;
ALTER TABLE callbacks DROP COLUMN reached_at;
DROP INDEX calls_service_level;
ALTER TABLE calls DROP COLUMN sl_wait_s;
ALTER TABLE calls DROP COLUMN sl_kind;
