//! Conversations: one customer's matter in one mailbox, made of threads.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::conversations;
use crate::db::types::{ConversationState, ConversationStatus, ConversationType};
use crate::db::{AnyConnection, dialect};

/// A conversation as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    /// Primary key.
    pub id: i64,
    /// The number agents and customers see, unique across mailboxes.
    pub number: i64,
    /// The mailbox it belongs to.
    pub mailbox_id: i64,
    /// The customer, if known.
    pub customer_id: Option<i64>,
    /// The customer's address this conversation uses.
    pub customer_email: String,
    /// The assignee.
    pub user_id: Option<i64>,
    /// [`ConversationType`] number.
    pub conversation_type: i16,
    /// [`ConversationStatus`] number.
    pub status: i16,
    /// [`ConversationState`] number.
    pub state: i16,
    /// Subject line.
    pub subject: String,
    /// Start of the latest message, for lists.
    pub preview: String,
    /// How many threads it has.
    pub threads_count: i32,
    /// Whether any thread has attachments.
    pub has_attachments: bool,
    /// Time of the latest customer or agent message; lists sort on it.
    pub last_reply_at: NaiveDateTime,
    /// When it was closed, if closed.
    pub closed_at: Option<NaiveDateTime>,
    /// When it was made.
    pub created_at: NaiveDateTime,
}

/// Fields for a new conversation; [`create`] assigns the number.
#[derive(Debug, Clone)]
pub struct NewConversation<'a> {
    /// The mailbox.
    pub mailbox_id: i64,
    /// The customer, if known.
    pub customer_id: Option<i64>,
    /// The customer's address.
    pub customer_email: &'a str,
    /// Who created it (None when mail came in).
    pub created_by_user_id: Option<i64>,
    /// Channel.
    pub conversation_type: ConversationType,
    /// Initial status.
    pub status: ConversationStatus,
    /// Initial state.
    pub state: ConversationState,
    /// Subject line.
    pub subject: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = conversations)]
struct ConversationRow<'a> {
    number: i64,
    mailbox_id: i64,
    customer_id: Option<i64>,
    customer_email: &'a str,
    created_by_user_id: Option<i64>,
    conversation_type: i16,
    status: i16,
    state: i16,
    subject: &'a str,
    last_reply_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Conversation {
    /// The status, if the stored number is known.
    pub fn status(&self) -> Option<ConversationStatus> {
        ConversationStatus::from_i16(self.status)
    }
}

/// Longest subject kept (the column holds 998 characters, the RFC 5322 line limit).
const SUBJECT_MAX_CHARS: usize = 998;

/// Inserts a conversation with the next free number and returns `(id, number)`. Two
/// processes racing for a number meet the unique index; the loser retries.
pub fn create(conn: &mut AnyConnection, new: &NewConversation<'_>) -> QueryResult<(i64, i64)> {
    let subject: String = new.subject.chars().take(SUBJECT_MAX_CHARS).collect();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = crate::db::dialect::write_transaction(&mut *conn, |c| {
            let max: Option<i64> = conversations::table
                .select(diesel::dsl::max(conversations::number))
                .first(c)?;
            let number = max.unwrap_or(0) + 1;
            let row = ConversationRow {
                number,
                mailbox_id: new.mailbox_id,
                customer_id: new.customer_id,
                customer_email: new.customer_email,
                created_by_user_id: new.created_by_user_id,
                conversation_type: new.conversation_type.as_i16(),
                status: new.status.as_i16(),
                state: new.state.as_i16(),
                subject: &subject,
                last_reply_at: new.created_at,
                created_at: new.created_at,
                updated_at: new.created_at,
            };
            let id = dialect::insert_returning_id(c, |c| {
                diesel::insert_into(conversations::table)
                    .values(&row)
                    .execute(c)
            })?;
            Ok((id, number))
        });
        match result {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) if attempt < 5 => continue,
            other => return other,
        }
    }
}

/// One conversation by id.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Conversation>> {
    conversations::table
        .find(id)
        .select(Conversation::as_select())
        .first(conn)
        .optional()
}
