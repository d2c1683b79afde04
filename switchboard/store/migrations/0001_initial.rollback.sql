DROP TABLE calls;
DROP TABLE board_sessions;
DROP TABLE board_users;
DROP TABLE contact_numbers;
DROP TABLE contacts;
