-- Who a conversation is assigned to after an agent replies: 1 the replying agent when unassigned, 2 keep as is.
ALTER TABLE mailboxes ADD COLUMN assign_after_reply SMALLINT NOT NULL DEFAULT 1;
