//! The activity log: who did what to which account, and from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{activity_log, users};

/// One entry to record. `action` is a stable snake_case name such as `login`,
/// `login_failed`, `login_locked`, `user_disabled`.
#[derive(Debug, Clone, Default)]
pub struct Activity<'a> {
    /// Who did it (None: anonymous or the command line).
    pub user_id: Option<i64>,
    /// What happened.
    pub action: &'a str,
    /// What kind of thing it happened to (`user`, `settings`, …).
    pub subject_type: &'a str,
    /// Which one.
    pub subject_id: Option<i64>,
    /// Free text, e.g. the email tried.
    pub details: &'a str,
    /// Client address.
    pub ip: &'a str,
}

/// Writes one entry.
pub fn record(conn: &mut AnyConnection, a: &Activity<'_>, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(activity_log::table)
        .values((
            activity_log::user_id.eq(a.user_id),
            activity_log::action.eq(a.action),
            activity_log::subject_type.eq(a.subject_type),
            activity_log::subject_id.eq(a.subject_id),
            activity_log::details.eq(a.details),
            activity_log::ip.eq(a.ip),
            activity_log::created_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A logged entry with the actor's name, for the admin's activity page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// When, UTC, `YYYY-MM-DD HH:MM:SS`.
    pub created_at: String,
    /// The actor's name (kept after the account is deleted), or empty.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Details.
    pub details: String,
    /// Client address.
    pub ip: String,
}

/// The latest entries, newest first.
pub fn recent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<Entry>> {
    type Row = (
        NaiveDateTime,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = activity_log::table
        .left_join(users::table)
        .order((activity_log::created_at.desc(), activity_log::id.desc()))
        .limit(limit)
        .select((
            activity_log::created_at,
            users::first_name.nullable(),
            users::last_name.nullable(),
            activity_log::action,
            activity_log::details,
            activity_log::ip,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(created_at, first, last, action, details, ip)| Entry {
            created_at: created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
                .trim()
                .to_string(),
            action,
            details,
            ip,
        })
        .collect())
}
