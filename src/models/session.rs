//! Server-side login sessions. The cookie holds a random token; the table holds its hash,
//! so every request is checked against the database and ending a session is a delete.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::token;
use crate::db::schema::{sessions, users};
use crate::db::types::UserStatus;
use crate::db::{AnyConnection, dialect};
use crate::models::user::User;

/// How long a "remember me" session lives.
pub const REMEMBER_DAYS: i64 = 30;
/// How long an ordinary session lives after the last request.
pub const IDLE_HOURS: i64 = 12;

/// A session as read from the database.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    /// Primary key.
    pub id: i64,
    /// The account.
    pub user_id: i64,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    /// Whether it outlives the browser.
    pub remember: bool,
    /// Last request.
    pub last_seen_at: NaiveDateTime,
    /// When it ends.
    pub expires_at: NaiveDateTime,
}

/// A new session's secrets: the cookie value and the CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value (only its hash is stored).
    pub token: String,
    /// The CSRF token.
    pub csrf_token: String,
    /// When it ends.
    pub expires_at: NaiveDateTime,
}

fn lifetime(remember: bool) -> Duration {
    if remember {
        Duration::days(REMEMBER_DAYS)
    } else {
        Duration::hours(IDLE_HOURS)
    }
}

/// Starts a session for `user_id` with fresh random tokens.
pub fn create(
    conn: &mut AnyConnection,
    user_id: i64,
    remember: bool,
    ip: &str,
    user_agent: &str,
    now: NaiveDateTime,
) -> Result<NewSession, crate::error::AppError> {
    let token = token::random_token().map_err(crate::error::AppError::Internal)?;
    let csrf_token = token::random_token().map_err(crate::error::AppError::Internal)?;
    let expires_at = now + lifetime(remember);
    let agent: String = user_agent.chars().take(255).collect();
    // Expired sessions are dead already; drop them while we are here.
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now))).execute(conn)?;
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(sessions::table)
            .values((
                sessions::token_hash.eq(token::hash_token(&token)),
                sessions::user_id.eq(user_id),
                sessions::csrf_token.eq(&csrf_token),
                sessions::remember.eq(remember),
                sessions::ip.eq(ip),
                sessions::user_agent.eq(&agent),
                sessions::created_at.eq(now),
                sessions::last_seen_at.eq(now),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(c)
    })?;
    Ok(NewSession {
        token,
        csrf_token,
        expires_at,
    })
}

/// The live session for a cookie token and its account, if the session has not expired
/// and the account is active. Extends the session's life at most once a minute.
pub fn find_live(
    conn: &mut AnyConnection,
    token: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<(Session, User)>> {
    let found: Option<(Session, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token::hash_token(token)))
        .filter(sessions::expires_at.gt(now))
        .filter(users::status.eq(UserStatus::Active.as_i16()))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()?;
    if let Some((session, _)) = &found
        && now - session.last_seen_at > Duration::minutes(1)
    {
        diesel::update(sessions::table.find(session.id))
            .set((
                sessions::last_seen_at.eq(now),
                sessions::expires_at.eq(now + lifetime(session.remember)),
            ))
            .execute(conn)?;
    }
    Ok(found)
}

/// Ends one session.
pub fn delete(conn: &mut AnyConnection, id: i64) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// Ends every session of an account (password changed or reset, account disabled).
pub fn delete_for_user(conn: &mut AnyConnection, user_id: i64) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)))
        .execute(conn)
        .map(|_| ())
}
