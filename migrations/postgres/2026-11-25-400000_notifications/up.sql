-- Agent notifications (postgres): per-user preferences (a missing row means the default)
-- and one row per (user, event) that is both the in-app notification and, when the
-- user wants mail, the durable send job for it (claimed with a lease, retried).
CREATE TABLE notification_prefs (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  kind VARCHAR(40) NOT NULL,
  email BOOLEAN NOT NULL DEFAULT FALSE,
  in_app BOOLEAN NOT NULL DEFAULT TRUE,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_notification_prefs_user_kind ON notification_prefs (user_id, kind);
CREATE TABLE notifications (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  event_id BIGINT NOT NULL,
  conversation_id BIGINT,
  kind VARCHAR(40) NOT NULL,
  summary TEXT NOT NULL DEFAULT '',
  in_app BOOLEAN NOT NULL DEFAULT TRUE,
  read_at TIMESTAMP,
  email_status SMALLINT NOT NULL DEFAULT 0,
  email_attempts INTEGER NOT NULL DEFAULT 0,
  email_next_at TIMESTAMP,
  email_error TEXT NOT NULL DEFAULT '',
  message_id VARCHAR(255) NOT NULL DEFAULT '',
  locked_by VARCHAR(191),
  locked_until TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_notifications_user_event ON notifications (user_id, event_id);
CREATE INDEX ix_notifications_conversation_id ON notifications (conversation_id);
CREATE INDEX ix_notifications_email ON notifications (email_status, email_next_at);
-- Notifications start with the events written after this migration (no flood of history).
INSERT INTO event_cursors (consumer, last_event_id, updated_at)
  SELECT 'notifications', (SELECT COALESCE(MAX(id), 0) FROM events), CURRENT_TIMESTAMP
  WHERE NOT EXISTS (SELECT 1 FROM event_cursors WHERE consumer = 'notifications');
