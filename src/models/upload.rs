//! Files an agent uploaded from the reply editor (a pasted image, an attachment) before
//! they belong to a sent message. The bytes live in the file store under their SHA-256;
//! only the uploader may read or use a row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::uploads;
use crate::db::{AnyConnection, dialect};

/// An upload as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, serde::Serialize)]
#[diesel(table_name = uploads)]
pub struct Upload {
    /// Primary key.
    pub id: i64,
    /// The agent who uploaded it.
    pub user_id: i64,
    /// Sanitized display name.
    pub file_name: String,
    /// `type/subtype`.
    pub mime_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 naming the stored file.
    pub sha256: String,
}

/// Fields for a new upload.
#[derive(Debug, Insertable)]
#[diesel(table_name = uploads)]
pub struct NewUpload<'a> {
    /// The agent.
    pub user_id: i64,
    /// Sanitized display name.
    pub file_name: &'a str,
    /// `type/subtype`.
    pub mime_type: &'a str,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256 naming the stored file.
    pub sha256: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

/// Records an upload; returns its id.
pub fn create(conn: &mut AnyConnection, new: &NewUpload<'_>) -> QueryResult<i64> {
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(uploads::table).values(new).execute(c)
    })
}

/// The uploads among `ids` that belong to `user_id`, in the order asked (unknown and
/// foreign ids are left out).
pub fn owned(conn: &mut AnyConnection, user_id: i64, ids: &[i64]) -> QueryResult<Vec<Upload>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<Upload> = uploads::table
        .filter(uploads::user_id.eq(user_id))
        .filter(uploads::id.eq_any(ids))
        .select(Upload::as_select())
        .load(conn)?;
    Ok(ids
        .iter()
        .filter_map(|id| found.iter().find(|u| u.id == *id).cloned())
        .collect())
}
