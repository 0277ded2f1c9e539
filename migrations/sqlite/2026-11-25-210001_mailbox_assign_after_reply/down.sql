ALTER TABLE mailboxes DROP COLUMN assign_after_reply;
