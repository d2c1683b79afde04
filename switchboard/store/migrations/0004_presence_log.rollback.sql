DROP TABLE IF EXISTS presence_log;
