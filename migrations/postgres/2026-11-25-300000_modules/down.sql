DROP TABLE event_cursors;
DROP TABLE module_storage;
DROP TABLE module_state;
