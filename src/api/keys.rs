//! API keys: 32 random bytes shown once as 64 hex digits, stored as their SHA-256.
//!
//! Why SHA-256 and not argon2 (which hashes passwords here): a key is 256 bits of
//! randomness, so there is nothing to guess and no dictionary to slow down; a fast hash
//! lets every API call find its key with one indexed lookup instead of ~30 ms of argon2
//! per request, and a stolen table still yields no usable key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::token::{hash_token, random_token};
use crate::db::schema::{api_keys, users};
use crate::db::{AnyConnection, dialect};
use crate::models::user::User;

/// Calls per minute a new key may make unless told otherwise.
pub const DEFAULT_RATE_PER_MINUTE: i32 = 120;

/// Characters of a key shown in lists, so admins can tell keys apart.
const PREFIX_CHARS: usize = 8;

/// A key as lists show it (never the key itself).
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct KeyInfo {
    /// Id.
    pub id: i64,
    /// What the key is for.
    pub name: String,
    /// Its first characters.
    pub key_prefix: String,
    /// The user it acts as.
    pub user_id: Option<i64>,
    /// That user's email.
    pub user_email: Option<String>,
    /// Calls per minute allowed.
    pub rate_per_minute: i32,
    /// When it was made.
    pub created_at: NaiveDateTime,
    /// When it was last used.
    pub last_used_at: Option<NaiveDateTime>,
}

/// The user a presented key acts as, with the key's id and rate.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The key's id.
    pub key_id: i64,
    /// Calls per minute allowed.
    pub rate_per_minute: i32,
    /// When it was last used.
    pub last_used_at: Option<NaiveDateTime>,
    /// The user.
    pub user: User,
}

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    hash_token(key.trim())
}

/// Creates a key acting as `user_id`; returns `(id, key)`. The key is not stored.
pub fn create(
    conn: &mut AnyConnection,
    name: &str,
    user_id: i64,
    rate_per_minute: i32,
    now: NaiveDateTime,
) -> QueryResult<(i64, String)> {
    let key = random_token().map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
    let prefix: String = key.chars().take(PREFIX_CHARS).collect();
    let id = dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::name.eq(name.trim()),
                api_keys::key_hash.eq(hash(&key)),
                api_keys::key_prefix.eq(&prefix),
                api_keys::user_id.eq(Some(user_id)),
                api_keys::rate_per_minute.eq(rate_per_minute.max(1)),
                api_keys::created_at.eq(now),
            ))
            .execute(c)
    })?;
    Ok((id, key))
}

/// Every key, newest first.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<KeyInfo>> {
    api_keys::table
        .left_join(users::table)
        .order(api_keys::id.desc())
        .select((
            api_keys::id,
            api_keys::name,
            api_keys::key_prefix,
            api_keys::user_id,
            users::email.nullable(),
            api_keys::rate_per_minute,
            api_keys::created_at,
            api_keys::last_used_at,
        ))
        .load(conn)
}

/// Deletes a key; false when there was none.
pub fn revoke(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(api_keys::table.find(id)).execute(conn)? > 0)
}

/// The owner of a presented key, if the key exists and belongs to a user.
pub fn owner(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<KeyOwner>> {
    let found: Option<(i64, i32, Option<NaiveDateTime>, User)> = api_keys::table
        .inner_join(users::table)
        .filter(api_keys::key_hash.eq(hash(key)))
        .select((
            api_keys::id,
            api_keys::rate_per_minute,
            api_keys::last_used_at,
            User::as_select(),
        ))
        .first(conn)
        .optional()?;
    Ok(
        found.map(|(key_id, rate_per_minute, last_used_at, user)| KeyOwner {
            key_id,
            rate_per_minute,
            last_used_at,
            user,
        }),
    )
}

/// Records that a key was used now.
pub fn touch(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(Some(now)))
        .execute(conn)
        .map(|_| ())
}
