//! Agent notifications: per-user preferences and the notifications themselves.
//!
//! One `notifications` row per (user, event) is both the in-app notification (when the
//! user wants those) and the durable job of mailing it (when the user wants mail): the
//! unique `(user_id, event_id)` key makes a re-delivered event harmless.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{conversations, notification_prefs, notifications};

/// What a user can be notified about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    /// A new conversation in a mailbox the user can see.
    NewConversation,
    /// A customer replied to a conversation assigned to the user.
    CustomerRepliedMine,
    /// A customer replied to an unassigned conversation.
    CustomerRepliedUnassigned,
    /// A customer replied to a conversation assigned to someone else.
    CustomerRepliedOther,
    /// A conversation was assigned to the user by someone else.
    AssignedToMe,
    /// A note mentions the user (`@FirstName` or `@email`).
    Mentioned,
    /// A reply the user wrote could not be sent.
    ReplyFailed,
}

impl Kind {
    /// Every kind, in the order the profile page lists them.
    pub const ALL: [Kind; 7] = [
        Kind::NewConversation,
        Kind::CustomerRepliedMine,
        Kind::CustomerRepliedUnassigned,
        Kind::CustomerRepliedOther,
        Kind::AssignedToMe,
        Kind::Mentioned,
        Kind::ReplyFailed,
    ];

    /// The stored name (also the form field and message key suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NewConversation => "new_conversation",
            Kind::CustomerRepliedMine => "customer_replied_mine",
            Kind::CustomerRepliedUnassigned => "customer_replied_unassigned",
            Kind::CustomerRepliedOther => "customer_replied_other",
            Kind::AssignedToMe => "assigned_to_me",
            Kind::Mentioned => "mentioned",
            Kind::ReplyFailed => "reply_failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The preference a user has until they change it: `(email, in_app)`. Everything is
    /// shown in the app; mail only for what is about the user personally.
    pub fn default_pref(self) -> (bool, bool) {
        match self {
            Kind::NewConversation
            | Kind::CustomerRepliedUnassigned
            | Kind::CustomerRepliedOther => (false, true),
            Kind::CustomerRepliedMine
            | Kind::AssignedToMe
            | Kind::Mentioned
            | Kind::ReplyFailed => (true, true),
        }
    }
}

/// One preference as the profile page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pref {
    /// The kind's stored name.
    pub kind: &'static str,
    /// Send mail.
    pub email: bool,
    /// Show in the app.
    pub in_app: bool,
}

/// Every preference of `user_id`, defaults where the user never chose.
pub fn prefs(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<Pref>> {
    let rows: Vec<(String, bool, bool)> = notification_prefs::table
        .filter(notification_prefs::user_id.eq(user_id))
        .select((
            notification_prefs::kind,
            notification_prefs::email,
            notification_prefs::in_app,
        ))
        .load(conn)?;
    Ok(Kind::ALL
        .into_iter()
        .map(|k| {
            let (email, in_app) = rows
                .iter()
                .find(|(name, _, _)| name == k.as_str())
                .map(|(_, e, i)| (*e, *i))
                .unwrap_or_else(|| k.default_pref());
            Pref {
                kind: k.as_str(),
                email,
                in_app,
            }
        })
        .collect())
}

/// `(email, in_app)` of one kind for `user_id`.
pub fn pref(conn: &mut AnyConnection, user_id: i64, kind: Kind) -> QueryResult<(bool, bool)> {
    let row: Option<(bool, bool)> = notification_prefs::table
        .filter(notification_prefs::user_id.eq(user_id))
        .filter(notification_prefs::kind.eq(kind.as_str()))
        .select((notification_prefs::email, notification_prefs::in_app))
        .first(conn)
        .optional()?;
    Ok(row.unwrap_or_else(|| kind.default_pref()))
}

/// Stores every preference of `user_id` (one transaction; replaces what was there).
pub fn save_prefs(
    conn: &mut AnyConnection,
    user_id: i64,
    chosen: &[(Kind, bool, bool)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        diesel::delete(notification_prefs::table.filter(notification_prefs::user_id.eq(user_id)))
            .execute(c)?;
        for (kind, email, in_app) in chosen {
            diesel::insert_into(notification_prefs::table)
                .values((
                    notification_prefs::user_id.eq(user_id),
                    notification_prefs::kind.eq(kind.as_str()),
                    notification_prefs::email.eq(*email),
                    notification_prefs::in_app.eq(*in_app),
                    notification_prefs::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// `email_status`: no mail wanted.
pub const EMAIL_NONE: i16 = 0;
/// `email_status`: mail waiting to be sent (or retried).
pub const EMAIL_PENDING: i16 = 1;
/// `email_status`: the server accepted the mail.
pub const EMAIL_SENT: i16 = 2;
/// `email_status`: given up (permanent refusal or too many attempts).
pub const EMAIL_FAILED: i16 = 3;

/// A notification to record.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    /// Recipient.
    pub user_id: i64,
    /// The event it comes from (with `user_id`, the unique key).
    pub event_id: i64,
    /// The conversation it is about.
    pub conversation_id: Option<i64>,
    /// What happened.
    pub kind: Kind,
    /// A short plain-text excerpt (message start, note, error).
    pub summary: &'a str,
    /// Show in the app.
    pub in_app: bool,
    /// Mail it.
    pub email: bool,
    /// When.
    pub created_at: NaiveDateTime,
}

/// Records a notification unless this user already has one for this event (a re-delivered
/// event). Returns the new row's id, or `None` when it existed.
pub fn create(conn: &mut AnyConnection, n: &NewNotification<'_>) -> QueryResult<Option<i64>> {
    if exists(conn, n.user_id, n.event_id)? {
        return Ok(None);
    }
    let inserted = diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(n.user_id),
            notifications::event_id.eq(n.event_id),
            notifications::conversation_id.eq(n.conversation_id),
            notifications::kind.eq(n.kind.as_str()),
            notifications::summary.eq(n.summary),
            notifications::in_app.eq(n.in_app),
            notifications::email_status.eq(if n.email { EMAIL_PENDING } else { EMAIL_NONE }),
            notifications::created_at.eq(n.created_at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => return Ok(None),
        Err(e) => return Err(e),
    }
    notifications::table
        .filter(notifications::user_id.eq(n.user_id))
        .filter(notifications::event_id.eq(n.event_id))
        .select(notifications::id)
        .first(conn)
        .map(Some)
}

fn exists(conn: &mut AnyConnection, user_id: i64, event_id: i64) -> QueryResult<bool> {
    let n: i64 = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::event_id.eq(event_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// An unread in-app notification as the list shows it.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct Listed {
    /// Id.
    pub id: i64,
    /// Kind's stored name.
    pub kind: String,
    /// Excerpt.
    pub summary: String,
    /// When.
    pub created_at: NaiveDateTime,
    /// The conversation.
    pub conversation_id: Option<i64>,
    /// Its number.
    pub number: Option<i64>,
    /// Its subject.
    pub subject: Option<String>,
    /// Its mailbox.
    pub mailbox_id: Option<i64>,
}

/// The unread in-app notifications of `user_id`, newest first (at most 200).
pub fn unread(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<Listed>> {
    notifications::table
        .left_join(conversations::table)
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::in_app.eq(true))
        .filter(notifications::read_at.is_null())
        .order(notifications::id.desc())
        .limit(200)
        .select((
            notifications::id,
            notifications::kind,
            notifications::summary,
            notifications::created_at,
            notifications::conversation_id,
            conversations::number.nullable(),
            conversations::subject.nullable(),
            conversations::mailbox_id.nullable(),
        ))
        .load(conn)
}

/// How many unread in-app notifications `user_id` has.
pub fn unread_count(conn: &mut AnyConnection, user_id: i64) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::in_app.eq(true))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)
}

/// Marks one of `user_id`'s notifications (or, with `None`, all of them) read. Returns
/// how many changed; another user's notification is never touched.
pub fn mark_read(
    conn: &mut AnyConnection,
    user_id: i64,
    id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mine = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .into_boxed();
    let target = match id {
        Some(id) => mine.filter(notifications::id.eq(id)),
        None => mine,
    };
    let ids: Vec<i64> = target.select(notifications::id).load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(notifications::table.filter(notifications::id.eq_any(ids)))
        .set(notifications::read_at.eq(Some(now)))
        .execute(conn)
}

/// A notification waiting to be mailed.
#[derive(Debug, Clone, Queryable)]
pub struct Mailing {
    /// Id.
    pub id: i64,
    /// Recipient.
    pub user_id: i64,
    /// The conversation.
    pub conversation_id: Option<i64>,
    /// Kind's stored name.
    pub kind: String,
    /// Excerpt.
    pub summary: String,
    /// Attempts so far.
    pub email_attempts: i32,
    /// The Message-ID fixed at the first attempt (empty before).
    pub message_id: String,
}

/// Claims up to `limit` notifications whose mail is due, for `worker`, until `until`.
/// A row another process holds with a live lease is skipped.
pub fn claim_due_mail(
    conn: &mut AnyConnection,
    worker: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Mailing>> {
    let candidates: Vec<i64> = notifications::table
        .filter(notifications::email_status.eq(EMAIL_PENDING))
        .filter(
            notifications::email_next_at
                .is_null()
                .or(notifications::email_next_at.le(now)),
        )
        .filter(
            notifications::locked_until
                .is_null()
                .or(notifications::locked_until.lt(now)),
        )
        .order(notifications::id.asc())
        .limit(limit)
        .select(notifications::id)
        .load(conn)?;
    let mut claimed = Vec::new();
    for id in candidates {
        let n = diesel::update(
            notifications::table
                .filter(notifications::id.eq(id))
                .filter(notifications::email_status.eq(EMAIL_PENDING))
                .filter(
                    notifications::locked_until
                        .is_null()
                        .or(notifications::locked_until.lt(now)),
                ),
        )
        .set((
            notifications::locked_by.eq(Some(worker)),
            notifications::locked_until.eq(Some(until)),
        ))
        .execute(conn)?;
        if n == 1 {
            claimed.push(
                notifications::table
                    .find(id)
                    .select((
                        notifications::id,
                        notifications::user_id,
                        notifications::conversation_id,
                        notifications::kind,
                        notifications::summary,
                        notifications::email_attempts,
                        notifications::message_id,
                    ))
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// Fixes the Message-ID of a notification's mail before its first attempt, so a retry
/// sends the same id.
pub fn set_message_id(conn: &mut AnyConnection, id: i64, message_id: &str) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set(notifications::message_id.eq(message_id))
        .execute(conn)
        .map(|_| ())
}

/// Records the outcome of one mail attempt and frees the lease: `next_at` set means
/// "retry then", otherwise `status` is final.
pub fn finish_mail(
    conn: &mut AnyConnection,
    id: i64,
    status: i16,
    attempts: i32,
    next_at: Option<NaiveDateTime>,
    error: &str,
) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::email_status.eq(status),
            notifications::email_attempts.eq(attempts),
            notifications::email_next_at.eq(next_at),
            notifications::email_error.eq(error),
            notifications::locked_by.eq(None::<String>),
            notifications::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(|_| ())
}
