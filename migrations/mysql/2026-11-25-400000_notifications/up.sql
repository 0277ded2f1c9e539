-- Agent notifications (mysql): per-user preferences (a missing row means the default)
-- and one row per (user, event) that is both the in-app notification and, when the
-- user wants mail, the durable send job for it (claimed with a lease, retried).
CREATE TABLE IF NOT EXISTS notification_prefs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  kind VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  email BOOLEAN NOT NULL DEFAULT FALSE,
  in_app BOOLEAN NOT NULL DEFAULT TRUE,
  updated_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_notification_prefs_user_kind (user_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS notifications (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  event_id BIGINT NOT NULL,
  conversation_id BIGINT,
  kind VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  summary LONGTEXT NOT NULL DEFAULT (''),
  in_app BOOLEAN NOT NULL DEFAULT TRUE,
  read_at DATETIME(6),
  email_status SMALLINT NOT NULL DEFAULT 0,
  email_attempts INT NOT NULL DEFAULT 0,
  email_next_at DATETIME(6),
  email_error LONGTEXT NOT NULL DEFAULT (''),
  message_id VARCHAR(255) NOT NULL DEFAULT '',
  locked_by VARCHAR(191),
  locked_until DATETIME(6),
  created_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_notifications_user_event (user_id, event_id),
  INDEX ix_notifications_conversation_id (conversation_id),
  INDEX ix_notifications_email (email_status, email_next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Notifications start with the events written after this migration (no flood of history).
INSERT INTO event_cursors (consumer, last_event_id, updated_at)
  SELECT 'notifications', (SELECT COALESCE(MAX(id), 0) FROM events), CURRENT_TIMESTAMP(6) FROM DUAL
  WHERE NOT EXISTS (SELECT 1 FROM event_cursors WHERE consumer = 'notifications');
