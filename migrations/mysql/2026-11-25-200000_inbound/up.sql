-- Inbound mail: per-message fetch records and the ingestion log (mysql). Enumerations keep FreeScout's numbers; see src/db/types.rs.
CREATE TABLE IF NOT EXISTS inbound_messages (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  mailbox_id BIGINT NOT NULL,
  thread_id BIGINT NOT NULL,
  dedupe_key VARCHAR(64) NOT NULL,
  folder VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  uidvalidity BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  auto_flags SMALLINT NOT NULL DEFAULT 0,
  reply_to VARCHAR(255) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_inbound_messages_dedupe (mailbox_id, dedupe_key),
  INDEX ix_inbound_messages_thread_id (thread_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS ingest_failures (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  mailbox_id BIGINT NOT NULL,
  folder VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  uidvalidity BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  error LONGTEXT NOT NULL DEFAULT (''),
  raw_path VARCHAR(255) NOT NULL DEFAULT '',
  attempts INT NOT NULL DEFAULT 1,
  resolved_at DATETIME(6),
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  INDEX ix_ingest_failures_mailbox (mailbox_id, resolved_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- Last UID whose after-fetch action (mark seen, move) is done; it trails last_uid after a crash.
ALTER TABLE fetch_state ADD COLUMN flagged_uid BIGINT NOT NULL DEFAULT 0;
