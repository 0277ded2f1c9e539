//! Inbound mail: fetch (IMAP) → parse → classify → thread → store, one transaction per
//! message together with the fetch checkpoint.

pub mod classify;
pub mod fetch;
pub mod module_filter;
pub mod parse;
pub mod quotes;
pub mod store;
pub mod threading;

use crate::db::AnyConnection;
use store::{InboundContext, Origin, StoreError, Stored};

/// Why one message could not be taken in.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not a message.
    #[error("cannot parse: {0}")]
    Parse(#[from] parse::ParseError),
    /// Parsed, but storing failed.
    #[error("cannot store: {0}")]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for IngestError {
    fn from(e: diesel::result::Error) -> Self {
        IngestError::Store(StoreError::Database(e))
    }
}

/// Parses and stores one raw message, and runs `also` (e.g. moving the fetch checkpoint)
/// in the same transaction: either all of it commits or none of it does.
pub fn ingest<F>(
    conn: &mut AnyConnection,
    ctx: &InboundContext<'_>,
    origin: &Origin<'_>,
    raw: &[u8],
    also: F,
) -> Result<Stored, IngestError>
where
    F: FnOnce(&mut AnyConnection) -> diesel::QueryResult<()>,
{
    let prepared = prepare(conn, ctx, origin, raw)?;
    store_prepared(conn, ctx, origin, &prepared, also)
}

/// A parsed message with the modules' verdict on it, ready to store.
pub struct Prepared {
    mail: parse::ParsedMail,
    verdict: crate::hooks::filters::InboundVerdict,
}

/// Parses a raw message and asks the modules about it. Call this outside the transaction
/// that stores it: a module that writes its storage does so on another connection, which
/// would wait on that transaction's write lock.
pub fn prepare(
    conn: &mut AnyConnection,
    ctx: &InboundContext<'_>,
    origin: &Origin<'_>,
    raw: &[u8],
) -> Result<Prepared, IngestError> {
    let mail = parse::parse(raw)?;
    let verdict = module_filter::ask_modules(conn, ctx, origin, &mail)?;
    Ok(Prepared { mail, verdict })
}

/// Stores a prepared message and runs `also` in one write transaction (a savepoint inside
/// the caller's, so a failure rolls back this message alone).
pub fn store_prepared<F>(
    conn: &mut AnyConnection,
    ctx: &InboundContext<'_>,
    origin: &Origin<'_>,
    prepared: &Prepared,
    also: F,
) -> Result<Stored, IngestError>
where
    F: FnOnce(&mut AnyConnection) -> diesel::QueryResult<()>,
{
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let stored = store::store_message(c, ctx, origin, &prepared.mail, &prepared.verdict)?;
        also(c)?;
        Ok(stored)
    })
}

/// Why a retry from the ingestion log did not work.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No such entry.
    #[error("no such entry in the ingestion log")]
    NotFound,
    /// It was taken in already.
    #[error("it was taken in already")]
    AlreadyResolved,
    /// The raw copy is gone or unreadable.
    #[error("the raw copy cannot be read: {0}")]
    Raw(std::io::Error),
    /// It failed again (the log entry now says why).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

/// Tries a message from the ingestion log again from its raw copy; on success the entry
/// is resolved in the same transaction as the stored message.
pub fn retry_failure(
    conn: &mut AnyConnection,
    secrets: &crate::crypto::Secrets,
    files: &crate::storage::FileStore,
    reopen_within_days: i64,
    id: i64,
) -> Result<Stored, RetryError> {
    use crate::models::{ingest_failure, mailbox};
    let failure = ingest_failure::find(conn, id)?.ok_or(RetryError::NotFound)?;
    if failure.resolved_at.is_some() {
        return Err(RetryError::AlreadyResolved);
    }
    let settings =
        mailbox::inbound_settings(conn, failure.mailbox_id)?.ok_or(RetryError::NotFound)?;
    let own = mailbox::own_addresses(conn)?;
    let raw = files.get_raw(&failure.raw_path).map_err(RetryError::Raw)?;
    let ctx = InboundContext {
        secrets,
        files,
        own_addresses: &own,
        reopen_within_days,
        hooks: None,
    };
    let origin = Origin {
        mailbox: &settings,
        folder: &failure.folder,
        uidvalidity: failure.uidvalidity,
        uid: failure.uid,
        raw_path: &failure.raw_path,
    };
    match ingest(conn, &ctx, &origin, &raw, |c| {
        ingest_failure::resolve(c, id)
    }) {
        Ok(stored) => Ok(stored),
        Err(e) => {
            ingest_failure::retry_failed(conn, id, &e.to_string())?;
            Err(RetryError::Ingest(e))
        }
    }
}

impl std::fmt::Display for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stored::NewConversation {
                conversation_id, ..
            } => write!(f, "stored as new conversation {conversation_id}"),
            Stored::Appended {
                conversation_id, ..
            } => write!(f, "added to conversation {conversation_id}"),
            Stored::Duplicate => f.write_str("already stored"),
            Stored::OwnMessage => f.write_str("a copy of our own mail; skipped"),
            Stored::Dropped => f.write_str("dropped by a module"),
        }
    }
}
