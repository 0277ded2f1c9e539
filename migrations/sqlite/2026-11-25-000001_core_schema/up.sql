-- Core schema (sqlite). Enumerations keep FreeScout's numbers; see src/db/types.rs.
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  first_name VARCHAR(100) NOT NULL,
  last_name VARCHAR(100) NOT NULL DEFAULT '',
  email VARCHAR(255) NOT NULL,
  password_hash VARCHAR(255) NOT NULL DEFAULT '',
  role SMALLINT NOT NULL DEFAULT 1,
  status SMALLINT NOT NULL DEFAULT 1,
  locale VARCHAR(16) NOT NULL DEFAULT 'en',
  timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
  job_title VARCHAR(255) NOT NULL DEFAULT '',
  phone VARCHAR(64) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_users_email ON users (email);
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL,
  aliases TEXT NOT NULL DEFAULT '',
  from_name_mode SMALLINT NOT NULL DEFAULT 1,
  from_name_custom VARCHAR(255) NOT NULL DEFAULT '',
  signature TEXT NOT NULL DEFAULT '',
  in_host VARCHAR(255) NOT NULL DEFAULT '',
  in_port INTEGER NOT NULL DEFAULT 993,
  in_security SMALLINT NOT NULL DEFAULT 1,
  in_username VARCHAR(255) NOT NULL DEFAULT '',
  in_password TEXT NOT NULL DEFAULT '',
  in_folders TEXT NOT NULL DEFAULT '["INBOX"]',
  in_after_fetch SMALLINT NOT NULL DEFAULT 1,
  in_move_folder VARCHAR(255) NOT NULL DEFAULT '',
  fetch_interval_secs INTEGER NOT NULL DEFAULT 60,
  out_method SMALLINT NOT NULL DEFAULT 1,
  out_host VARCHAR(255) NOT NULL DEFAULT '',
  out_port INTEGER NOT NULL DEFAULT 587,
  out_security SMALLINT NOT NULL DEFAULT 2,
  out_username VARCHAR(255) NOT NULL DEFAULT '',
  out_password TEXT NOT NULL DEFAULT '',
  auto_reply_enabled BOOLEAN NOT NULL DEFAULT FALSE,
  auto_reply_subject VARCHAR(255) NOT NULL DEFAULT '',
  auto_reply_body TEXT NOT NULL DEFAULT '',
  auto_bcc VARCHAR(255) NOT NULL DEFAULT '',
  status_after_reply SMALLINT NOT NULL DEFAULT 2,
  subject_token_threading BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_mailboxes_email ON mailboxes (email);
CREATE TABLE mailbox_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  access SMALLINT NOT NULL DEFAULT 2,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_mailbox_users_pair ON mailbox_users (mailbox_id, user_id);
CREATE INDEX ix_mailbox_users_user ON mailbox_users (user_id);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  first_name VARCHAR(255) NOT NULL DEFAULT '',
  last_name VARCHAR(255) NOT NULL DEFAULT '',
  company VARCHAR(255) NOT NULL DEFAULT '',
  job_title VARCHAR(255) NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_customers_name ON customers (last_name, first_name);
CREATE INDEX ix_customers_company ON customers (company);
CREATE TABLE customer_emails (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  customer_id BIGINT NOT NULL,
  email VARCHAR(255) NOT NULL,
  email_type SMALLINT NOT NULL DEFAULT 1,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_customer_emails_email ON customer_emails (email);
CREATE INDEX ix_customer_emails_customer ON customer_emails (customer_id);
CREATE TABLE conversations (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  number BIGINT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  customer_id BIGINT,
  customer_email VARCHAR(255) NOT NULL DEFAULT '',
  user_id BIGINT,
  created_by_user_id BIGINT,
  conversation_type SMALLINT NOT NULL DEFAULT 1,
  status SMALLINT NOT NULL DEFAULT 1,
  state SMALLINT NOT NULL DEFAULT 2,
  subject VARCHAR(998) NOT NULL DEFAULT '',
  preview VARCHAR(255) NOT NULL DEFAULT '',
  threads_count INTEGER NOT NULL DEFAULT 0,
  has_attachments BOOLEAN NOT NULL DEFAULT FALSE,
  cc TEXT NOT NULL DEFAULT '',
  bcc TEXT NOT NULL DEFAULT '',
  last_reply_at TIMESTAMP NOT NULL,
  last_reply_from SMALLINT NOT NULL DEFAULT 1,
  closed_at TIMESTAMP,
  closed_by_user_id BIGINT,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE SET NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL,
  FOREIGN KEY (created_by_user_id) REFERENCES users(id) ON DELETE SET NULL,
  FOREIGN KEY (closed_by_user_id) REFERENCES users(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX ux_conversations_number ON conversations (number);
CREATE INDEX ix_conversations_folder ON conversations (mailbox_id, state, status, user_id, last_reply_at, id);
CREATE INDEX ix_conversations_assignee ON conversations (user_id, state, status, last_reply_at, id);
CREATE INDEX ix_conversations_customer ON conversations (customer_id, last_reply_at);
CREATE INDEX ix_conversations_created_by_user_id ON conversations (created_by_user_id);
CREATE INDEX ix_conversations_closed_by_user_id ON conversations (closed_by_user_id);
CREATE TABLE threads (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  conversation_id BIGINT NOT NULL,
  thread_type SMALLINT NOT NULL,
  status SMALLINT NOT NULL DEFAULT 1,
  state SMALLINT NOT NULL DEFAULT 2,
  action_type SMALLINT,
  action_data TEXT NOT NULL DEFAULT '',
  body_html TEXT NOT NULL DEFAULT '',
  body_text TEXT NOT NULL DEFAULT '',
  subject VARCHAR(998) NOT NULL DEFAULT '',
  from_email VARCHAR(255) NOT NULL DEFAULT '',
  from_name VARCHAR(255) NOT NULL DEFAULT '',
  to_list TEXT NOT NULL DEFAULT '',
  cc_list TEXT NOT NULL DEFAULT '',
  bcc_list TEXT NOT NULL DEFAULT '',
  message_id VARCHAR(255) NOT NULL DEFAULT '',
  in_reply_to VARCHAR(255) NOT NULL DEFAULT '',
  references_list TEXT NOT NULL DEFAULT '',
  content_hash VARCHAR(64) NOT NULL DEFAULT '',
  headers TEXT NOT NULL DEFAULT '',
  raw_path VARCHAR(255) NOT NULL DEFAULT '',
  customer_id BIGINT,
  created_by_user_id BIGINT,
  user_id BIGINT,
  has_attachments BOOLEAN NOT NULL DEFAULT FALSE,
  opened_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE,
  FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE SET NULL,
  FOREIGN KEY (created_by_user_id) REFERENCES users(id) ON DELETE SET NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX ix_threads_conversation ON threads (conversation_id, created_at);
CREATE INDEX ix_threads_customer_id ON threads (customer_id);
CREATE INDEX ix_threads_created_by_user_id ON threads (created_by_user_id);
CREATE INDEX ix_threads_user_id ON threads (user_id);
CREATE TABLE attachments (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thread_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  file_name VARCHAR(255) NOT NULL,
  mime_type VARCHAR(255) NOT NULL DEFAULT 'application/octet-stream',
  size_bytes BIGINT NOT NULL DEFAULT 0,
  sha256 VARCHAR(64) NOT NULL,
  content_id VARCHAR(255) NOT NULL DEFAULT '',
  is_inline BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE INDEX ix_attachments_thread ON attachments (thread_id);
CREATE INDEX ix_attachments_sha256 ON attachments (sha256);
CREATE INDEX ix_attachments_conversation_id ON attachments (conversation_id);
CREATE TABLE message_ids (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  message_id VARCHAR(255) NOT NULL,
  thread_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_message_ids_mailbox_message ON message_ids (mailbox_id, message_id);
CREATE INDEX ix_message_ids_conversation ON message_ids (conversation_id);
CREATE INDEX ix_message_ids_thread_id ON message_ids (thread_id);
CREATE TABLE fetch_state (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  folder VARCHAR(255) NOT NULL,
  uidvalidity BIGINT NOT NULL DEFAULT 0,
  last_uid BIGINT NOT NULL DEFAULT 0,
  locked_by VARCHAR(128),
  locked_until TIMESTAMP,
  last_fetch_at TIMESTAMP,
  last_error TEXT NOT NULL DEFAULT '',
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_fetch_state_mailbox_folder ON fetch_state (mailbox_id, folder);
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thread_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  mailbox_id BIGINT NOT NULL,
  kind SMALLINT NOT NULL DEFAULT 1,
  status SMALLINT NOT NULL DEFAULT 1,
  due_at TIMESTAMP NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  message_id VARCHAR(255) NOT NULL DEFAULT '',
  mime BLOB,
  locked_by VARCHAR(128),
  locked_until TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE
);
CREATE INDEX ix_outbox_due ON outbox (status, due_at);
CREATE INDEX ix_outbox_thread ON outbox (thread_id);
CREATE INDEX ix_outbox_conversation_id ON outbox (conversation_id);
CREATE INDEX ix_outbox_mailbox_id ON outbox (mailbox_id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  kind VARCHAR(64) NOT NULL,
  mailbox_id BIGINT,
  conversation_id BIGINT,
  thread_id BIGINT,
  user_id BIGINT,
  payload TEXT NOT NULL DEFAULT '{}',
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_events_conversation ON events (conversation_id);
CREATE TABLE send_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  outbox_id BIGINT,
  thread_id BIGINT,
  mailbox_id BIGINT,
  recipient VARCHAR(255) NOT NULL,
  status SMALLINT NOT NULL,
  smtp_response TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (outbox_id) REFERENCES outbox(id) ON DELETE SET NULL,
  FOREIGN KEY (thread_id) REFERENCES threads(id) ON DELETE SET NULL,
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE SET NULL
);
CREATE INDEX ix_send_log_thread ON send_log (thread_id);
CREATE INDEX ix_send_log_outbox_id ON send_log (outbox_id);
CREATE INDEX ix_send_log_mailbox_id ON send_log (mailbox_id);
CREATE TABLE activity_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT,
  action VARCHAR(64) NOT NULL,
  subject_type VARCHAR(64) NOT NULL DEFAULT '',
  subject_id BIGINT,
  details TEXT NOT NULL DEFAULT '',
  ip VARCHAR(64) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX ix_activity_log_created ON activity_log (created_at);
CREATE INDEX ix_activity_log_user ON activity_log (user_id);
CREATE TABLE stars (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_stars_pair ON stars (user_id, conversation_id);
CREATE INDEX ix_stars_conversation ON stars (conversation_id);
CREATE TABLE followers (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL,
  conversation_id BIGINT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  FOREIGN KEY (conversation_id) REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_followers_pair ON followers (user_id, conversation_id);
CREATE INDEX ix_followers_conversation ON followers (conversation_id);
CREATE TABLE options (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name VARCHAR(191) NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_options_name ON options (name);
CREATE TABLE api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name VARCHAR(255) NOT NULL,
  key_hash VARCHAR(128) NOT NULL,
  user_id BIGINT,
  created_at TIMESTAMP NOT NULL,
  last_used_at TIMESTAMP,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_api_keys_hash ON api_keys (key_hash);
CREATE INDEX ix_api_keys_user_id ON api_keys (user_id);
