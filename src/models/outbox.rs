//! The outbox: mail to send, one row per message, claimed by a worker with a lease so two
//! Postdesk processes never send the same row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::outbox;
use crate::db::types::{OutboxKind, OutboxStatus};
use crate::db::{self, AnyConnection, dialect};

/// How long a claim lasts; a worker that dies mid-send frees the row after this.
pub const LEASE_SECONDS: i64 = 120;

/// An outbox row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    /// Primary key.
    pub id: i64,
    /// The thread being sent.
    pub thread_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// The mailbox sending it.
    pub mailbox_id: i64,
    /// [`OutboxKind`] number.
    pub kind: i16,
    /// [`OutboxStatus`] number.
    pub status: i16,
    /// When it is (next) due.
    pub due_at: NaiveDateTime,
    /// Attempts so far.
    pub attempts: i32,
    /// The last error ("" if none).
    pub last_error: String,
    /// The Message-ID it carries.
    pub message_id: String,
    /// The built MIME message, once built (retries resend these exact bytes).
    pub mime: Option<Vec<u8>>,
    /// The SMTP envelope as JSON, once built.
    pub envelope: String,
    /// When it was enqueued.
    pub created_at: NaiveDateTime,
}

/// Enqueues a thread for sending; call in the transaction that creates the thread.
pub fn enqueue(
    conn: &mut AnyConnection,
    thread_id: i64,
    conversation_id: i64,
    mailbox_id: i64,
    kind: OutboxKind,
    message_id: &str,
    due_at: NaiveDateTime,
) -> QueryResult<i64> {
    let now = db::now();
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(outbox::table)
            .values((
                outbox::thread_id.eq(thread_id),
                outbox::conversation_id.eq(conversation_id),
                outbox::mailbox_id.eq(mailbox_id),
                outbox::kind.eq(kind.as_i16()),
                outbox::status.eq(OutboxStatus::Queued.as_i16()),
                outbox::due_at.eq(due_at),
                outbox::message_id.eq(message_id),
                outbox::created_at.eq(now),
                outbox::updated_at.eq(now),
            ))
            .execute(c)
    })
}

/// Rows a worker may take: waiting or retrying, or sending with a dead holder; due; unleased.
#[diesel::dsl::auto_type]
fn claimable(now: NaiveDateTime, statuses: [i16; 3]) -> _ {
    outbox::status
        .eq_any(statuses)
        .and(outbox::due_at.le(now))
        .and(
            outbox::locked_until
                .is_null()
                .or(outbox::locked_until.lt(now)),
        )
}

const CLAIMABLE: [i16; 3] = [
    OutboxStatus::Queued as i16,
    OutboxStatus::Sending as i16,
    OutboxStatus::Retrying as i16,
];

/// Claims up to `limit` due rows for `worker` (a row whose sender died is due again
/// once its lease ends). Each row is taken by an atomic conditional UPDATE.
pub fn claim_due(
    conn: &mut AnyConnection,
    worker: &str,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let now = db::now();
    let candidates: Vec<i64> = outbox::table
        .filter(claimable(now, CLAIMABLE))
        .order(outbox::due_at)
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    let until = now + chrono::Duration::seconds(LEASE_SECONDS);
    let mut claimed = Vec::new();
    for id in candidates {
        let n = diesel::update(outbox::table.find(id).filter(claimable(now, CLAIMABLE)))
            .set((
                outbox::status.eq(OutboxStatus::Sending.as_i16()),
                outbox::locked_by.eq(worker),
                outbox::locked_until.eq(until),
            ))
            .execute(conn)?;
        if n == 1 {
            claimed.push(
                outbox::table
                    .find(id)
                    .select(OutboxRow::as_select())
                    .first(conn)?,
            );
        }
    }
    // A row whose sender died on this machine need not wait for its lease to end.
    if (claimed.len() as i64) < limit {
        let held: Vec<(i64, Option<String>)> = outbox::table
            .filter(outbox::status.eq(OutboxStatus::Sending.as_i16()))
            .filter(outbox::locked_until.ge(now))
            .select((outbox::id, outbox::locked_by))
            .limit(limit)
            .load(conn)?;
        for (id, holder) in held {
            let Some(holder) = holder.filter(|h| crate::lease::holder_is_dead(h)) else {
                continue;
            };
            let n = diesel::update(outbox::table.find(id).filter(outbox::locked_by.eq(&holder)))
                .set((outbox::locked_by.eq(worker), outbox::locked_until.eq(until)))
                .execute(conn)?;
            if n == 1 {
                tracing::warn!(
                    outbox.id = id,
                    holder,
                    "took over an outbox row of a process that is gone"
                );
                claimed.push(
                    outbox::table
                        .find(id)
                        .select(OutboxRow::as_select())
                        .first(conn)?,
                );
            }
        }
    }
    Ok(claimed)
}

/// Stores the built message so every retry sends the same bytes.
pub fn store_mime(
    conn: &mut AnyConnection,
    id: i64,
    mime: &[u8],
    envelope: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((outbox::mime.eq(Some(mime)), outbox::envelope.eq(envelope)))
        .execute(conn)
        .map(|_| ())
}

/// Ends a row with `status` (and an error to show, "" for success), releasing its lease.
pub fn finish(
    conn: &mut AnyConnection,
    id: i64,
    status: OutboxStatus,
    error: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status.as_i16()),
            outbox::last_error.eq(error),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::locked_by.eq(None::<String>),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Schedules another attempt after a temporary failure.
pub fn retry_at(
    conn: &mut AnyConnection,
    id: i64,
    due_at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(OutboxStatus::Retrying.as_i16()),
            outbox::due_at.eq(due_at),
            outbox::last_error.eq(error),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::locked_by.eq(None::<String>),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Cancels a row that has not started sending and is still inside its undo window.
/// Returns false when it is too late.
pub fn cancel_if_waiting(conn: &mut AnyConnection, thread_id: i64) -> QueryResult<bool> {
    let now = db::now();
    let n = diesel::update(
        outbox::table
            .filter(outbox::thread_id.eq(thread_id))
            .filter(outbox::status.eq(OutboxStatus::Queued.as_i16()))
            .filter(outbox::due_at.gt(now))
            .filter(outbox::locked_until.is_null()),
    )
    .set((
        outbox::status.eq(OutboxStatus::Cancelled.as_i16()),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Puts a failed row back in the queue (the "Retry" button).
pub fn retry_now(conn: &mut AnyConnection, thread_id: i64) -> QueryResult<bool> {
    let now = db::now();
    let n = diesel::update(
        outbox::table
            .filter(outbox::thread_id.eq(thread_id))
            .filter(outbox::status.eq(OutboxStatus::Failed.as_i16())),
    )
    .set((
        outbox::status.eq(OutboxStatus::Queued.as_i16()),
        outbox::due_at.eq(now),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// The latest outbox row of a thread (its delivery state), if it was ever enqueued.
pub fn for_thread(conn: &mut AnyConnection, thread_id: i64) -> QueryResult<Option<OutboxRow>> {
    outbox::table
        .filter(outbox::thread_id.eq(thread_id))
        .order(outbox::id.desc())
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}
