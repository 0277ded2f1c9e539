DROP INDEX ix_threads_creator_state;
DROP INDEX ix_conversations_creator_state;
DROP INDEX ix_conversations_list;
DROP TRIGGER tr_conversations_count_update ON conversations;
DROP TRIGGER tr_conversations_count_delete ON conversations;
DROP TRIGGER tr_conversations_count_insert ON conversations;
DROP FUNCTION conversation_counts_follow();
DROP TABLE conversation_counts;
DROP TABLE conversation_reads;
