DROP TABLE worklist_actions;
DROP TABLE worklist_attempts;
DROP TABLE worklist_items;
DROP INDEX callbacks_by_request;
ALTER TABLE callbacks DROP COLUMN reached_at;
DROP INDEX calls_service_level;
CREATE INDEX calls_announced_by_answer ON calls (answered_at) WHERE predicted_wait_s IS NOT NULL;
ALTER TABLE calls DROP COLUMN sl_wait_s;
ALTER TABLE calls DROP COLUMN sl_kind;
