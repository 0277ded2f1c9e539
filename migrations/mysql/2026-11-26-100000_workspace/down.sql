DROP INDEX IF EXISTS ix_threads_creator_state ON threads;
DROP INDEX IF EXISTS ix_conversations_creator_state ON conversations;
DROP INDEX IF EXISTS ix_conversations_list ON conversations;
DROP TRIGGER IF EXISTS tr_users_count_delete;
DROP TRIGGER IF EXISTS tr_conversations_count_update;
DROP TRIGGER IF EXISTS tr_conversations_count_delete;
DROP TRIGGER IF EXISTS tr_conversations_count_insert;
DROP TABLE IF EXISTS conversation_counts;
DROP TABLE IF EXISTS conversation_reads;
