DROP TABLE user_tokens;
DROP TABLE login_failures;
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN time_format;
