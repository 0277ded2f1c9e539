DROP INDEX ix_threads_creator_state;
DROP INDEX ix_conversations_creator_state;
DROP INDEX ix_conversations_list;
DROP TRIGGER tr_conversations_count_update;
DROP TRIGGER tr_conversations_count_delete;
DROP TRIGGER tr_conversations_count_insert;
DROP TABLE conversation_counts;
DROP TABLE conversation_reads;
