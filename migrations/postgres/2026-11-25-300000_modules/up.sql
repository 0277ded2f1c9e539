-- Modules (postgres): each module's state as the admin set it, its key-value storage, and
-- event cursors (how far each consumer of the events table has been served).
CREATE TABLE module_state (
  id BIGSERIAL PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  disabled_reason TEXT NOT NULL DEFAULT '',
  failures INTEGER NOT NULL DEFAULT 0,
  settings TEXT NOT NULL DEFAULT '{}',
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_module_state_name ON module_state (name);
CREATE TABLE module_storage (
  id BIGSERIAL PRIMARY KEY,
  module VARCHAR(64) NOT NULL,
  storage_key VARCHAR(191) NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_module_storage_key ON module_storage (module, storage_key);
CREATE TABLE event_cursors (
  id BIGSERIAL PRIMARY KEY,
  consumer VARCHAR(191) NOT NULL,
  last_event_id BIGINT NOT NULL DEFAULT 0,
  locked_by VARCHAR(191),
  locked_until TIMESTAMP,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX ux_event_cursors_consumer ON event_cursors (consumer);
