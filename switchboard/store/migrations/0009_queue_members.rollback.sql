DROP TABLE queue_member_log;
DROP TABLE queue_members;
