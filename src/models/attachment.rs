//! Attachment records; the bytes live in the file store under their SHA-256.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::attachments;

/// An attachment as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    /// Primary key.
    pub id: i64,
    /// Its thread.
    pub thread_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Sanitized display name.
    pub file_name: String,
    /// `type/subtype`.
    pub mime_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 naming the stored file.
    pub sha256: String,
    /// Content-ID for `cid:` links ("" when none).
    pub content_id: String,
    /// Shown inline in the body.
    pub is_inline: bool,
}

/// Fields for a new attachment.
#[derive(Debug, Insertable)]
#[diesel(table_name = attachments)]
pub struct NewAttachment<'a> {
    /// Its thread.
    pub thread_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Sanitized display name.
    pub file_name: &'a str,
    /// `type/subtype`.
    pub mime_type: &'a str,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 naming the stored file.
    pub sha256: &'a str,
    /// Content-ID ("" when none).
    pub content_id: &'a str,
    /// Shown inline.
    pub is_inline: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

/// Records an attachment.
pub fn create(conn: &mut AnyConnection, new: &NewAttachment<'_>) -> QueryResult<()> {
    diesel::insert_into(attachments::table)
        .values(new)
        .execute(conn)
        .map(|_| ())
}

/// A thread's attachments in order.
pub fn list_for_thread(conn: &mut AnyConnection, thread_id: i64) -> QueryResult<Vec<Attachment>> {
    attachments::table
        .filter(attachments::thread_id.eq(thread_id))
        .order(attachments::id)
        .select(Attachment::as_select())
        .load(conn)
}

/// An attachment and the mailbox of its conversation (whose access decides who may
/// download it).
pub fn find_with_mailbox(
    conn: &mut AnyConnection,
    id: i64,
) -> QueryResult<Option<(Attachment, i64)>> {
    use crate::db::schema::conversations;
    attachments::table
        .inner_join(conversations::table)
        .filter(attachments::id.eq(id))
        .select((Attachment::as_select(), conversations::mailbox_id))
        .first(conn)
        .optional()
}
