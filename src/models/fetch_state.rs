//! Fetch checkpoints, one row per mailbox folder: the folder's UIDVALIDITY, the last UID
//! handled and a lease, so two Postdesk processes never fetch the same folder at once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::fetch_state;
use crate::db::{self, AnyConnection};

/// How long a lease lasts unless renewed.
pub const LEASE_SECONDS: i64 = 300;

/// A checkpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = fetch_state)]
pub struct FetchState {
    /// Primary key.
    pub id: i64,
    /// The mailbox.
    pub mailbox_id: i64,
    /// The IMAP folder.
    pub folder: String,
    /// UIDVALIDITY the checkpoint belongs to (0: never fetched).
    pub uidvalidity: i64,
    /// The last UID handled.
    pub last_uid: i64,
    /// The last UID whose after-fetch action (seen, move) is done.
    pub flagged_uid: i64,
    /// When the folder was last fetched completely.
    pub last_fetch_at: Option<NaiveDateTime>,
    /// The last error, "" when the last fetch went well.
    pub last_error: String,
}

/// Claims the folder's checkpoint for `worker`, creating it on first use. Returns `None`
/// when another worker holds a live lease.
pub fn claim(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    folder: &str,
    worker: &str,
) -> QueryResult<Option<FetchState>> {
    let now = db::now();
    let exists: i64 = fetch_state::table
        .filter(fetch_state::mailbox_id.eq(mailbox_id))
        .filter(fetch_state::folder.eq(folder))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        let inserted = crate::db::dialect::write_transaction(&mut *conn, |c| {
            diesel::insert_into(fetch_state::table)
                .values((
                    fetch_state::mailbox_id.eq(mailbox_id),
                    fetch_state::folder.eq(folder),
                    fetch_state::updated_at.eq(now),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_)
            | Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) => return Err(e),
        }
    }
    let until = now + chrono::Duration::seconds(LEASE_SECONDS);
    let claimed = diesel::update(
        fetch_state::table
            .filter(fetch_state::mailbox_id.eq(mailbox_id))
            .filter(fetch_state::folder.eq(folder))
            .filter(
                fetch_state::locked_until
                    .is_null()
                    .or(fetch_state::locked_until.lt(now))
                    .or(fetch_state::locked_by.eq(worker)),
            ),
    )
    .set((
        fetch_state::locked_by.eq(worker),
        fetch_state::locked_until.eq(until),
    ))
    .execute(conn)?;
    if claimed == 0 {
        // A holder that crashed on this machine need not block us until its lease ends.
        let holder: Option<String> = fetch_state::table
            .filter(fetch_state::mailbox_id.eq(mailbox_id))
            .filter(fetch_state::folder.eq(folder))
            .select(fetch_state::locked_by)
            .first(conn)?;
        let Some(holder) = holder.filter(|h| crate::lease::holder_is_dead(h)) else {
            return Ok(None);
        };
        let stolen = diesel::update(
            fetch_state::table
                .filter(fetch_state::mailbox_id.eq(mailbox_id))
                .filter(fetch_state::folder.eq(folder))
                .filter(fetch_state::locked_by.eq(&holder)),
        )
        .set((
            fetch_state::locked_by.eq(worker),
            fetch_state::locked_until.eq(until),
        ))
        .execute(conn)?;
        if stolen == 0 {
            return Ok(None);
        }
        tracing::warn!(
            mailbox.id = mailbox_id,
            folder,
            holder,
            "took over the fetch lease of a process that is gone"
        );
    }
    fetch_state::table
        .filter(fetch_state::mailbox_id.eq(mailbox_id))
        .filter(fetch_state::folder.eq(folder))
        .select(FetchState::as_select())
        .first(conn)
        .map(Some)
}

/// Extends a lease that `worker` holds.
pub fn renew(conn: &mut AnyConnection, id: i64, worker: &str) -> QueryResult<()> {
    let until = db::now() + chrono::Duration::seconds(LEASE_SECONDS);
    diesel::update(
        fetch_state::table
            .find(id)
            .filter(fetch_state::locked_by.eq(worker)),
    )
    .set(fetch_state::locked_until.eq(until))
    .execute(conn)
    .map(|_| ())
}

/// Moves the checkpoint; call in the same transaction as the messages it covers.
pub fn advance(
    conn: &mut AnyConnection,
    id: i64,
    uidvalidity: i64,
    last_uid: i64,
) -> QueryResult<()> {
    diesel::update(fetch_state::table.find(id))
        .set((
            fetch_state::uidvalidity.eq(uidvalidity),
            fetch_state::last_uid.eq(last_uid),
            fetch_state::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Records that the after-fetch action is done up to `uid`.
pub fn flagged(conn: &mut AnyConnection, id: i64, uid: i64) -> QueryResult<()> {
    diesel::update(fetch_state::table.find(id))
        .set(fetch_state::flagged_uid.eq(uid))
        .execute(conn)
        .map(|_| ())
}

/// Releases the lease and records how the fetch ended ("" for success).
pub fn release(conn: &mut AnyConnection, id: i64, worker: &str, error: &str) -> QueryResult<()> {
    let now = db::now();
    let q = fetch_state::table
        .find(id)
        .filter(fetch_state::locked_by.eq(worker));
    if error.is_empty() {
        diesel::update(q)
            .set((
                fetch_state::locked_by.eq(None::<String>),
                fetch_state::locked_until.eq(None::<NaiveDateTime>),
                fetch_state::last_fetch_at.eq(now),
                fetch_state::last_error.eq(""),
            ))
            .execute(conn)
    } else {
        diesel::update(q)
            .set((
                fetch_state::locked_by.eq(None::<String>),
                fetch_state::locked_until.eq(None::<NaiveDateTime>),
                fetch_state::last_error.eq(error),
            ))
            .execute(conn)
    }
    .map(|_| ())
}

/// All checkpoints of a mailbox.
pub fn for_mailbox(conn: &mut AnyConnection, mailbox_id: i64) -> QueryResult<Vec<FetchState>> {
    fetch_state::table
        .filter(fetch_state::mailbox_id.eq(mailbox_id))
        .order(fetch_state::folder)
        .select(FetchState::as_select())
        .load(conn)
}
