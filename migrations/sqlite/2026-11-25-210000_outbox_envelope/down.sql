ALTER TABLE outbox DROP COLUMN envelope;
