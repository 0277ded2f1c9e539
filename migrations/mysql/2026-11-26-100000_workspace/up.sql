-- Workspace (mysql): per-user read marks, the folder counters kept by triggers, and the
-- indexes the folder lists and drafts walk. Stars and followers use the core tables.
-- Written to run again after a partial failure (MySQL DDL is not transactional).
CREATE TABLE IF NOT EXISTS conversation_reads (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  read_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_conversation_reads_pair (user_id, conversation_id),
  INDEX ix_conversation_reads_conversation (conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- How many conversations each (mailbox, state, status, assignee) has; user_id 0 = nobody.
-- Only the triggers below write it, so every writer keeps it exact. No serial id: on
-- PostgreSQL a sequence used inside the trigger would become the insert's lastval().
CREATE TABLE IF NOT EXISTS conversation_counts (
  mailbox_id BIGINT NOT NULL,
  state SMALLINT NOT NULL,
  status SMALLINT NOT NULL,
  user_id BIGINT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (mailbox_id, state, status, user_id),
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
  SELECT mailbox_id, state, status, COALESCE(user_id, 0), COUNT(*)
  FROM conversations GROUP BY mailbox_id, state, status, COALESCE(user_id, 0)
  ON DUPLICATE KEY UPDATE n = VALUES(n);
CREATE TRIGGER IF NOT EXISTS tr_conversations_count_insert AFTER INSERT ON conversations
FOR EACH ROW
BEGIN
  INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
    VALUES (NEW.mailbox_id, NEW.state, NEW.status, COALESCE(NEW.user_id, 0), 1)
    ON DUPLICATE KEY UPDATE n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS tr_conversations_count_delete AFTER DELETE ON conversations
FOR EACH ROW
BEGIN
  UPDATE conversation_counts SET n = n - 1
    WHERE mailbox_id = OLD.mailbox_id AND state = OLD.state AND status = OLD.status
      AND user_id = COALESCE(OLD.user_id, 0);
END;
CREATE TRIGGER IF NOT EXISTS tr_conversations_count_update AFTER UPDATE ON conversations
FOR EACH ROW
BEGIN
  IF NOT (OLD.mailbox_id <=> NEW.mailbox_id AND OLD.state <=> NEW.state
      AND OLD.status <=> NEW.status AND OLD.user_id <=> NEW.user_id) THEN
    UPDATE conversation_counts SET n = n - 1
      WHERE mailbox_id = OLD.mailbox_id AND state = OLD.state AND status = OLD.status
        AND user_id = COALESCE(OLD.user_id, 0);
    INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
      VALUES (NEW.mailbox_id, NEW.state, NEW.status, COALESCE(NEW.user_id, 0), 1)
      ON DUPLICATE KEY UPDATE n = n + 1;
  END IF;
END;
-- InnoDB does not fire triggers for foreign-key actions: deleting a user sets their
-- conversations' user_id to NULL behind the triggers' back, so move their counts to nobody.
CREATE TRIGGER IF NOT EXISTS tr_users_count_delete BEFORE DELETE ON users
FOR EACH ROW
BEGIN
  INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
    SELECT c.mailbox_id, c.state, c.status, 0, c.n FROM conversation_counts AS c
    WHERE c.user_id = OLD.id
    ON DUPLICATE KEY UPDATE n = conversation_counts.n + VALUES(n);
  DELETE FROM conversation_counts WHERE user_id = OLD.id;
END;
-- Closed, Spam and Deleted list every assignee's conversations newest first.
CREATE INDEX IF NOT EXISTS ix_conversations_list ON conversations (mailbox_id, state, status, last_reply_at, id);
-- Drafts: an agent's draft conversations and draft replies.
CREATE INDEX IF NOT EXISTS ix_conversations_creator_state ON conversations (created_by_user_id, state);
CREATE INDEX IF NOT EXISTS ix_threads_creator_state ON threads (created_by_user_id, state);
