-- Accounts (sqlite): server-side sessions, login throttling, reset/invite tokens, time format.
ALTER TABLE users ADD COLUMN time_format SMALLINT NOT NULL DEFAULT 24;
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  token_hash VARCHAR(64) NOT NULL,
  user_id BIGINT NOT NULL,
  csrf_token VARCHAR(64) NOT NULL,
  remember BOOLEAN NOT NULL DEFAULT FALSE,
  ip VARCHAR(64) NOT NULL DEFAULT '',
  user_agent VARCHAR(255) NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_sessions_token_hash ON sessions (token_hash);
CREATE INDEX ix_sessions_user_id ON sessions (user_id);
CREATE INDEX ix_sessions_expires ON sessions (expires_at);
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  scope_key VARCHAR(191) NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX ix_login_failures_key ON login_failures (scope_key, created_at);
CREATE TABLE user_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL,
  kind SMALLINT NOT NULL,
  token_hash VARCHAR(64) NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_user_tokens_token_hash ON user_tokens (token_hash);
CREATE INDEX ix_user_tokens_user_id ON user_tokens (user_id);
