-- REST API (mysql): a shown prefix and a rate limit for API keys, and webhooks with their deliveries
-- (one row per webhook and event: the durable send job, retried with back-off).
ALTER TABLE api_keys ADD COLUMN key_prefix VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN rate_per_minute INTEGER NOT NULL DEFAULT 120;
CREATE TABLE IF NOT EXISTS api_webhooks (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  url LONGTEXT NOT NULL,
  events LONGTEXT NOT NULL,
  secret VARCHAR(128) NOT NULL,
  user_id BIGINT,
  created_at DATETIME(6) NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL,
  INDEX ix_api_webhooks_user_id (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS api_webhook_deliveries (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  webhook_id BIGINT NOT NULL,
  event_id BIGINT NOT NULL,
  event VARCHAR(64) NOT NULL,
  body LONGTEXT NOT NULL,
  status SMALLINT NOT NULL DEFAULT 0,
  attempts INT NOT NULL DEFAULT 0,
  next_at DATETIME(6) NOT NULL,
  last_error LONGTEXT NOT NULL DEFAULT (''),
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  FOREIGN KEY (webhook_id) REFERENCES api_webhooks(id) ON DELETE CASCADE,
  UNIQUE INDEX ux_api_webhook_deliveries_event (webhook_id, event_id),
  INDEX ix_api_webhook_deliveries_due (status, next_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
