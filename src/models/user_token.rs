//! One-time links (password reset, invitation): single use, expiring, stored hashed.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::token;
use crate::db::schema::{user_tokens, users};
use crate::db::types::{UserStatus, UserTokenKind};
use crate::db::{AnyConnection, dialect};

/// How long a link stays valid.
pub fn lifetime(kind: UserTokenKind) -> Duration {
    match kind {
        UserTokenKind::PasswordReset => Duration::hours(1),
        UserTokenKind::Invite => Duration::days(7),
    }
}

/// Makes a new link token for `user_id`; earlier unused links of the same kind stop working.
pub fn create(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: UserTokenKind,
    now: NaiveDateTime,
) -> Result<String, crate::error::AppError> {
    let secret = token::random_token().map_err(crate::error::AppError::Internal)?;
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        diesel::delete(
            user_tokens::table
                .filter(user_tokens::user_id.eq(user_id))
                .filter(user_tokens::kind.eq(kind.as_i16()))
                .filter(user_tokens::used_at.is_null()),
        )
        .execute(c)?;
        dialect::insert_returning_id(c, |c| {
            diesel::insert_into(user_tokens::table)
                .values((
                    user_tokens::user_id.eq(user_id),
                    user_tokens::kind.eq(kind.as_i16()),
                    user_tokens::token_hash.eq(token::hash_token(&secret)),
                    user_tokens::expires_at.eq(now + lifetime(kind)),
                    user_tokens::created_at.eq(now),
                ))
                .execute(c)
        })
    })?;
    Ok(secret)
}

/// The account a link is for, if the link is unused, unexpired and the account active.
pub fn peek(
    conn: &mut AnyConnection,
    secret: &str,
    kind: UserTokenKind,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    user_tokens::table
        .inner_join(users::table)
        .filter(user_tokens::token_hash.eq(token::hash_token(secret)))
        .filter(user_tokens::kind.eq(kind.as_i16()))
        .filter(user_tokens::used_at.is_null())
        .filter(user_tokens::expires_at.gt(now))
        .filter(users::status.eq(UserStatus::Active.as_i16()))
        .select(user_tokens::user_id)
        .first(conn)
        .optional()
}

/// Uses a link up: marks it used in one conditional update, so two requests racing with
/// the same link cannot both succeed. Returns the account it was for.
pub fn consume(
    conn: &mut AnyConnection,
    secret: &str,
    kind: UserTokenKind,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let Some(user_id) = peek(conn, secret, kind, now)? else {
        return Ok(None);
    };
    let claimed = diesel::update(
        user_tokens::table
            .filter(user_tokens::token_hash.eq(token::hash_token(secret)))
            .filter(user_tokens::used_at.is_null()),
    )
    .set(user_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok((claimed == 1).then_some(user_id))
}
