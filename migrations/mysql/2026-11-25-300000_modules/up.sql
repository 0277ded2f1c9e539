-- Modules (mysql): each module's state as the admin set it, its key-value storage, and
-- event cursors (how far each consumer of the events table has been served).
CREATE TABLE IF NOT EXISTS module_state (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  disabled_reason LONGTEXT NOT NULL DEFAULT (''),
  failures INT NOT NULL DEFAULT 0,
  settings LONGTEXT NOT NULL DEFAULT ('{}'),
  updated_at DATETIME(6) NOT NULL,
  UNIQUE INDEX ux_module_state_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS module_storage (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  module VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  storage_key VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  value LONGTEXT NOT NULL DEFAULT (''),
  updated_at DATETIME(6) NOT NULL,
  UNIQUE INDEX ux_module_storage_key (module, storage_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS event_cursors (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  consumer VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  last_event_id BIGINT NOT NULL DEFAULT 0,
  locked_by VARCHAR(191),
  locked_until DATETIME(6),
  updated_at DATETIME(6) NOT NULL,
  UNIQUE INDEX ux_event_cursors_consumer (consumer)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
