//! The ingestion log: messages that could not be parsed or stored, kept with their raw
//! copy so an admin can see why and retry. A failed message is never silently consumed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::ingest_failures;
use crate::db::{self, AnyConnection};

/// One failed message.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = ingest_failures)]
pub struct IngestFailure {
    /// Primary key.
    pub id: i64,
    /// The mailbox.
    pub mailbox_id: i64,
    /// The IMAP folder.
    pub folder: String,
    /// The folder's UIDVALIDITY then.
    pub uidvalidity: i64,
    /// The message's UID.
    pub uid: i64,
    /// What went wrong.
    pub error: String,
    /// The raw copy, relative to the data directory.
    pub raw_path: String,
    /// How many times it was tried.
    pub attempts: i32,
    /// When a retry succeeded.
    pub resolved_at: Option<NaiveDateTime>,
    /// When it first failed.
    pub created_at: NaiveDateTime,
}

/// Records a failure (in the transaction that also moves the checkpoint past it).
pub fn record(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    folder: &str,
    uidvalidity: i64,
    uid: i64,
    error: &str,
    raw_path: &str,
) -> QueryResult<()> {
    let now = db::now();
    diesel::insert_into(ingest_failures::table)
        .values((
            ingest_failures::mailbox_id.eq(mailbox_id),
            ingest_failures::folder.eq(folder),
            ingest_failures::uidvalidity.eq(uidvalidity),
            ingest_failures::uid.eq(uid),
            ingest_failures::error.eq(error),
            ingest_failures::raw_path.eq(raw_path),
            ingest_failures::created_at.eq(now),
            ingest_failures::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Unresolved failures, newest first (all mailboxes when `mailbox_id` is None).
pub fn open(conn: &mut AnyConnection, mailbox_id: Option<i64>) -> QueryResult<Vec<IngestFailure>> {
    let mut q = ingest_failures::table
        .filter(ingest_failures::resolved_at.is_null())
        .order(ingest_failures::id.desc())
        .select(IngestFailure::as_select())
        .into_boxed();
    if let Some(id) = mailbox_id {
        q = q.filter(ingest_failures::mailbox_id.eq(id));
    }
    q.load(conn)
}

/// One failure by id.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<IngestFailure>> {
    ingest_failures::table
        .find(id)
        .select(IngestFailure::as_select())
        .first(conn)
        .optional()
}

/// Marks a failure resolved by a successful retry.
pub fn resolve(conn: &mut AnyConnection, id: i64) -> QueryResult<()> {
    let now = db::now();
    diesel::update(ingest_failures::table.find(id))
        .set((
            ingest_failures::resolved_at.eq(now),
            ingest_failures::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Counts another failed attempt with its error.
pub fn retry_failed(conn: &mut AnyConnection, id: i64, error: &str) -> QueryResult<()> {
    diesel::update(ingest_failures::table.find(id))
        .set((
            ingest_failures::attempts.eq(ingest_failures::attempts + 1),
            ingest_failures::error.eq(error),
            ingest_failures::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}
