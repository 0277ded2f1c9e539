//! The send log: each delivery attempt per recipient with the server's answer.

use diesel::prelude::*;

use crate::db::schema::send_log;
use crate::db::types::OutboxStatus;
use crate::db::{self, AnyConnection};

/// Records one attempt for each recipient.
pub fn record(
    conn: &mut AnyConnection,
    outbox_id: i64,
    thread_id: i64,
    mailbox_id: i64,
    recipients: &[String],
    status: OutboxStatus,
    answer: &str,
) -> QueryResult<()> {
    let now = db::now();
    for r in recipients {
        diesel::insert_into(send_log::table)
            .values((
                send_log::outbox_id.eq(Some(outbox_id)),
                send_log::thread_id.eq(Some(thread_id)),
                send_log::mailbox_id.eq(Some(mailbox_id)),
                send_log::recipient.eq(r),
                send_log::status.eq(status.as_i16()),
                send_log::smtp_response.eq(answer),
                send_log::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
