ALTER TABLE board_users DROP COLUMN extension;
