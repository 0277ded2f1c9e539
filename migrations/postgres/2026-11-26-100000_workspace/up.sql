-- Workspace (postgres): per-user read marks, the folder counters kept by triggers, and the
-- indexes the folder lists and drafts walk. Stars and followers use the core tables.
CREATE TABLE conversation_reads (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  read_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_conversation_reads_pair ON conversation_reads (user_id, conversation_id);
CREATE INDEX ix_conversation_reads_conversation ON conversation_reads (conversation_id);
-- How many conversations each (mailbox, state, status, assignee) has; user_id 0 = nobody.
-- Only the triggers below write it, so every writer keeps it exact. No serial id: on
-- PostgreSQL a sequence used inside the trigger would become the insert's lastval().
CREATE TABLE conversation_counts (
  mailbox_id BIGINT NOT NULL,
  state SMALLINT NOT NULL,
  status SMALLINT NOT NULL,
  user_id BIGINT NOT NULL,
  n BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (mailbox_id, state, status, user_id),
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE
);
INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
  SELECT mailbox_id, state, status, COALESCE(user_id, 0), COUNT(*)
  FROM conversations GROUP BY mailbox_id, state, status, COALESCE(user_id, 0);
CREATE FUNCTION conversation_counts_follow() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE conversation_counts SET n = n - 1
      WHERE mailbox_id = OLD.mailbox_id AND state = OLD.state AND status = OLD.status
        AND user_id = COALESCE(OLD.user_id, 0);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO conversation_counts (mailbox_id, state, status, user_id, n)
      VALUES (NEW.mailbox_id, NEW.state, NEW.status, COALESCE(NEW.user_id, 0), 1)
      ON CONFLICT (mailbox_id, state, status, user_id)
      DO UPDATE SET n = conversation_counts.n + 1;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tr_conversations_count_insert AFTER INSERT ON conversations
  FOR EACH ROW EXECUTE FUNCTION conversation_counts_follow();
CREATE TRIGGER tr_conversations_count_delete AFTER DELETE ON conversations
  FOR EACH ROW EXECUTE FUNCTION conversation_counts_follow();
CREATE TRIGGER tr_conversations_count_update AFTER UPDATE OF mailbox_id, state, status, user_id ON conversations
  FOR EACH ROW
  WHEN (OLD.mailbox_id IS DISTINCT FROM NEW.mailbox_id OR OLD.state IS DISTINCT FROM NEW.state
    OR OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION conversation_counts_follow();
-- Closed, Spam and Deleted list every assignee's conversations newest first.
CREATE INDEX ix_conversations_list ON conversations (mailbox_id, state, status, last_reply_at, id);
-- Drafts: an agent's draft conversations and draft replies.
CREATE INDEX ix_conversations_creator_state ON conversations (created_by_user_id, state);
CREATE INDEX ix_threads_creator_state ON threads (created_by_user_id, state);
