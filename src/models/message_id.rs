//! The message-id index: every Message-ID we received or generated, mapped to its thread
//! and conversation, per mailbox. Threading looks replies up here.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::message_ids;
use crate::db::{AnyConnection, dialect};

/// One index entry to record.
#[derive(Debug, Insertable)]
#[diesel(table_name = message_ids)]
pub struct NewMessageId<'a> {
    /// The mailbox the id was seen in.
    pub mailbox_id: i64,
    /// The id without angle brackets.
    pub message_id: &'a str,
    /// The thread carrying it.
    pub thread_id: i64,
    /// That thread's conversation.
    pub conversation_id: i64,
    /// When recorded.
    pub created_at: NaiveDateTime,
}

/// Records an id unless the mailbox already knows it; returns true if it was new.
pub fn record(conn: &mut AnyConnection, row: &NewMessageId<'_>) -> QueryResult<bool> {
    dialect::insert_message_id_if_new(conn, row)
}

/// The conversation holding any of `ids` in `mailbox_id` (the earliest match wins).
pub fn find_conversation(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    ids: &[&str],
) -> QueryResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    message_ids::table
        .filter(message_ids::mailbox_id.eq(mailbox_id))
        .filter(message_ids::message_id.eq_any(ids))
        .order(message_ids::id)
        .select(message_ids::conversation_id)
        .first(conn)
        .optional()
}
