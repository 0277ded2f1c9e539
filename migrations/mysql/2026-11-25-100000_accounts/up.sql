-- Accounts (mysql): server-side sessions, login throttling, reset/invite tokens, time format.
-- Every statement is safe to run again: MySQL DDL is not transactional.
ALTER TABLE users ADD COLUMN IF NOT EXISTS time_format SMALLINT NOT NULL DEFAULT 24;
CREATE TABLE IF NOT EXISTS sessions (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  token_hash VARCHAR(64) NOT NULL,
  user_id BIGINT NOT NULL,
  csrf_token VARCHAR(64) NOT NULL,
  remember BOOLEAN NOT NULL DEFAULT FALSE,
  ip VARCHAR(64) NOT NULL DEFAULT '',
  user_agent VARCHAR(255) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL,
  last_seen_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_sessions_token_hash (token_hash),
  INDEX ix_sessions_user_id (user_id),
  INDEX ix_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS login_failures (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  scope_key VARCHAR(191) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  INDEX ix_login_failures_key (scope_key, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS user_tokens (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  kind SMALLINT NOT NULL,
  token_hash VARCHAR(64) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  used_at DATETIME(6),
  created_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_user_tokens_token_hash (token_hash),
  INDEX ix_user_tokens_user_id (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
