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
-- Statement-level triggers over transition tables: one upsert per changed key and
-- statement. (Row-level upserts in one big transaction, such as seeding a million rows,
-- pile up versions of the same few counter rows and slow down quadratically.)
CREATE FUNCTION conversation_counts_follow() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO conversation_counts AS c (mailbox_id, state, status, user_id, n)
      SELECT mailbox_id, state, status, COALESCE(user_id, 0), COUNT(*)
      FROM new_rows GROUP BY 1, 2, 3, 4
      ON CONFLICT (mailbox_id, state, status, user_id) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE conversation_counts AS c SET n = c.n - d.k
      FROM (SELECT mailbox_id, state, status, COALESCE(user_id, 0) AS user_id, COUNT(*) AS k
            FROM old_rows GROUP BY 1, 2, 3, 4) AS d
      WHERE c.mailbox_id = d.mailbox_id AND c.state = d.state AND c.status = d.status
        AND c.user_id = d.user_id;
  ELSE
    INSERT INTO conversation_counts AS c (mailbox_id, state, status, user_id, n)
      SELECT mailbox_id, state, status, user_id, SUM(k) FROM (
        SELECT mailbox_id, state, status, COALESCE(user_id, 0) AS user_id, 1 AS k FROM new_rows
        UNION ALL
        SELECT mailbox_id, state, status, COALESCE(user_id, 0), -1 FROM old_rows
      ) AS d GROUP BY 1, 2, 3, 4 HAVING SUM(k) <> 0
      ON CONFLICT (mailbox_id, state, status, user_id) DO UPDATE SET n = c.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tr_conversations_count_insert AFTER INSERT ON conversations
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION conversation_counts_follow();
CREATE TRIGGER tr_conversations_count_delete AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION conversation_counts_follow();
-- Transition tables cannot go with a column list: every UPDATE statement runs it, and a
-- statement that changes none of the four columns nets to nothing and writes nothing.
CREATE TRIGGER tr_conversations_count_update AFTER UPDATE ON conversations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION conversation_counts_follow();
-- Closed, Spam and Deleted list every assignee's conversations newest first.
CREATE INDEX ix_conversations_list ON conversations (mailbox_id, state, status, last_reply_at, id);
-- Drafts: an agent's draft conversations and draft replies.
CREATE INDEX ix_conversations_creator_state ON conversations (created_by_user_id, state);
CREATE INDEX ix_threads_creator_state ON threads (created_by_user_id, state);
