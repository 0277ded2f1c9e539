ALTER TABLE fetch_state DROP COLUMN flagged_uid;
DROP TABLE IF EXISTS ingest_failures;
DROP TABLE IF EXISTS inbound_messages;
