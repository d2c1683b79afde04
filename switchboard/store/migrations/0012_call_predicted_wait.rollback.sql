DROP INDEX calls_announced_by_answer;
ALTER TABLE calls DROP COLUMN predicted_wait_s;
