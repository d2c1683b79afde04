-- depends: 0001_initial
-- A board user's own phone: the board answers calls and takes parked calls back onto
-- this extension, and transfers from the user's leg of a call.

ALTER TABLE board_users ADD COLUMN extension text
    CHECK (extension ~ '^[0-9]{2,10}$');
