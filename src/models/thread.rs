//! Threads: the entries of a conversation (customer mail, agent replies, notes, line items).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{conversations, threads};
use crate::db::types::ThreadType;
use crate::db::{AnyConnection, dialect};

/// A thread as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = threads)]
pub struct Thread {
    /// Primary key.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// [`ThreadType`] number.
    pub thread_type: i16,
    /// Sanitized HTML body (quoted history wrapped in `data-quoted`).
    pub body_html: String,
    /// Plain-text body.
    pub body_text: String,
    /// Subject of this message.
    pub subject: String,
    /// Sender address.
    pub from_email: String,
    /// The message's own Message-ID, without angle brackets.
    pub message_id: String,
    /// The customer who wrote it, for customer threads.
    pub customer_id: Option<i64>,
    /// The agent who wrote it, for agent threads.
    pub created_by_user_id: Option<i64>,
    /// When it was written.
    pub created_at: NaiveDateTime,
}

/// Fields for a new thread. Unset fields default to empty.
#[derive(Debug, Default, Insertable)]
#[diesel(table_name = threads)]
pub struct NewThread<'a> {
    /// Its conversation.
    pub conversation_id: i64,
    /// [`ThreadType`] number.
    pub thread_type: i16,
    /// The conversation's status when this thread was added.
    pub status: i16,
    /// Sanitized HTML body.
    pub body_html: &'a str,
    /// Plain-text body.
    pub body_text: &'a str,
    /// Subject of this message.
    pub subject: &'a str,
    /// Sender address.
    pub from_email: &'a str,
    /// Sender display name.
    pub from_name: &'a str,
    /// JSON list of To addresses.
    pub to_list: &'a str,
    /// JSON list of Cc addresses.
    pub cc_list: &'a str,
    /// JSON list of Bcc addresses.
    pub bcc_list: &'a str,
    /// Message-ID without angle brackets.
    pub message_id: &'a str,
    /// In-Reply-To id.
    pub in_reply_to: &'a str,
    /// JSON list of References ids.
    pub references_list: &'a str,
    /// Content hash of an incoming message.
    pub content_hash: &'a str,
    /// Where the raw message is kept, relative to the data directory.
    pub raw_path: &'a str,
    /// For line items: what happened.
    pub action_type: Option<i16>,
    /// For line items: details as JSON.
    pub action_data: &'a str,
    /// The customer who wrote it.
    pub customer_id: Option<i64>,
    /// The agent who wrote it.
    pub created_by_user_id: Option<i64>,
    /// Whether it carries attachments.
    pub has_attachments: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// How many characters of a message the conversation list shows.
const PREVIEW_CHARS: usize = 200;

/// The list preview of a message: its text with whitespace collapsed, cut to
/// [`PREVIEW_CHARS`] characters.
pub fn preview_of(body_text: &str) -> String {
    body_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

/// Adds a thread and updates its conversation's count, preview and reply time, in one
/// transaction. Returns the thread id.
pub fn add(conn: &mut AnyConnection, new: &NewThread<'_>) -> QueryResult<i64> {
    conn.transaction(|c| {
        let id = dialect::insert_returning_id(c, |c| {
            diesel::insert_into(threads::table).values(new).execute(c)
        })?;
        let is_message = matches!(
            ThreadType::from_i16(new.thread_type),
            Some(ThreadType::Customer | ThreadType::Message)
        );
        let conv = conversations::table.find(new.conversation_id);
        let counted = (
            conversations::threads_count.eq(conversations::threads_count + 1),
            conversations::updated_at.eq(new.created_at),
        );
        if is_message {
            let preview = preview_of(new.body_text);
            let from = if new.thread_type == ThreadType::Customer.as_i16() {
                1
            } else {
                2
            };
            diesel::update(conv)
                .set((
                    counted,
                    conversations::preview.eq(preview),
                    conversations::last_reply_at.eq(new.created_at),
                    conversations::last_reply_from.eq(from),
                ))
                .execute(c)?;
        } else {
            diesel::update(conv).set(counted).execute(c)?;
        }
        Ok(id)
    })
}

/// A conversation's threads, oldest first.
pub fn list_for_conversation(
    conn: &mut AnyConnection,
    conversation_id: i64,
) -> QueryResult<Vec<Thread>> {
    threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .order((threads::created_at, threads::id))
        .select(Thread::as_select())
        .load(conn)
}

/// Where a thread's raw message is kept ("" for threads written here) and the mailbox of
/// its conversation.
pub fn raw_source(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<(String, i64)>> {
    threads::table
        .inner_join(conversations::table)
        .filter(threads::id.eq(id))
        .select((threads::raw_path, conversations::mailbox_id))
        .first(conn)
        .optional()
}
