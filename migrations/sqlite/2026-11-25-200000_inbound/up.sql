-- Inbound mail: per-message fetch records and the ingestion log (sqlite). Enumerations keep FreeScout's numbers; see src/db/types.rs.
CREATE TABLE inbound_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  thread_id BIGINT NOT NULL,
  dedupe_key VARCHAR(64) NOT NULL,
  folder VARCHAR(255) NOT NULL DEFAULT '',
  uidvalidity BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  auto_flags SMALLINT NOT NULL DEFAULT 0,
  reply_to VARCHAR(255) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_inbound_messages_dedupe ON inbound_messages (mailbox_id, dedupe_key);
CREATE INDEX ix_inbound_messages_thread_id ON inbound_messages (thread_id);
CREATE TABLE ingest_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  folder VARCHAR(255) NOT NULL DEFAULT '',
  uidvalidity BIGINT NOT NULL DEFAULT 0,
  uid BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  raw_path VARCHAR(255) NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 1,
  resolved_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE
);
CREATE INDEX ix_ingest_failures_mailbox ON ingest_failures (mailbox_id, resolved_at);
-- Last UID whose after-fetch action (mark seen, move) is done; it trails last_uid after a crash.
ALTER TABLE fetch_state ADD COLUMN flagged_uid BIGINT NOT NULL DEFAULT 0;
