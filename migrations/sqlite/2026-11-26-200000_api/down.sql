DELETE FROM event_cursors WHERE consumer = 'api-webhooks';
DROP TABLE api_webhook_deliveries;
DROP TABLE api_webhooks;
ALTER TABLE api_keys DROP COLUMN rate_per_minute;
ALTER TABLE api_keys DROP COLUMN key_prefix;
