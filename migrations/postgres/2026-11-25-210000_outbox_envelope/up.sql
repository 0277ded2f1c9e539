-- The SMTP envelope (sender and every recipient, Bcc included) of the stored MIME, as JSON.
ALTER TABLE outbox ADD COLUMN envelope TEXT NOT NULL DEFAULT '';
