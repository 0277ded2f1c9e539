-- REST API (postgres): a shown prefix and a rate limit for API keys, and webhooks with their deliveries
-- (one row per webhook and event: the durable send job, retried with back-off).
ALTER TABLE api_keys ADD COLUMN key_prefix VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN rate_per_minute INTEGER NOT NULL DEFAULT 120;
CREATE TABLE api_webhooks (
  id BIGSERIAL PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret VARCHAR(128) NOT NULL,
  user_id BIGINT,
  created_at TIMESTAMP NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX ix_api_webhooks_user_id ON api_webhooks (user_id);
CREATE TABLE api_webhook_deliveries (
  id BIGSERIAL PRIMARY KEY,
  webhook_id BIGINT NOT NULL,
  event_id BIGINT NOT NULL,
  event VARCHAR(64) NOT NULL,
  body TEXT NOT NULL,
  status SMALLINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at TIMESTAMP NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  FOREIGN KEY (webhook_id) REFERENCES api_webhooks(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ux_api_webhook_deliveries_event ON api_webhook_deliveries (webhook_id, event_id);
CREATE INDEX ix_api_webhook_deliveries_due ON api_webhook_deliveries (status, next_at);
