//! Per-mailbox access grants (`mailbox_users`). Whether a user may see a mailbox is decided
//! in [`crate::permissions`], never here.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::mailbox_users;
use crate::db::types::MailboxAccess;

/// A user's grant on one mailbox, if any.
pub fn access(
    conn: &mut AnyConnection,
    user_id: i64,
    mailbox_id: i64,
) -> QueryResult<Option<MailboxAccess>> {
    let level: Option<i16> = mailbox_users::table
        .filter(mailbox_users::user_id.eq(user_id))
        .filter(mailbox_users::mailbox_id.eq(mailbox_id))
        .select(mailbox_users::access)
        .first(conn)
        .optional()?;
    Ok(level.and_then(MailboxAccess::from_i16))
}

/// Every grant of a user as `(mailbox_id, access)`.
pub fn grants_of(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<(i64, i16)>> {
    mailbox_users::table
        .filter(mailbox_users::user_id.eq(user_id))
        .order(mailbox_users::mailbox_id)
        .select((mailbox_users::mailbox_id, mailbox_users::access))
        .load(conn)
}

/// Replaces a user's grants with `grants` in one transaction.
pub fn replace_grants(
    conn: &mut AnyConnection,
    user_id: i64,
    grants: &[(i64, MailboxAccess)],
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        diesel::delete(mailbox_users::table.filter(mailbox_users::user_id.eq(user_id)))
            .execute(c)?;
        for (mailbox_id, access) in grants {
            diesel::insert_into(mailbox_users::table)
                .values((
                    mailbox_users::mailbox_id.eq(mailbox_id),
                    mailbox_users::user_id.eq(user_id),
                    mailbox_users::access.eq(access.as_i16()),
                    mailbox_users::created_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}
