//! Login throttling: failed logins are rows in `login_failures`, keyed per account
//! (`email:…`) and per client address (`ip:…`). Too many within the window locks that key
//! until the oldest failure in the window ages out. Reset mails are counted the same way
//! (`reset:…`).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::login_failures;

/// How far back failures count.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures per account within the window before it is locked.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Failures per client address within the window before it is locked.
pub const MAX_PER_IP: i64 = 20;

/// The throttle key for an account.
pub fn account_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

/// The throttle key for a client address.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Whole minutes until `key` may try again, or `None` when it is not locked.
pub fn locked_for(
    conn: &mut AnyConnection,
    key: &str,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let since = now - Duration::minutes(WINDOW_MINUTES);
    let recent: Vec<NaiveDateTime> = login_failures::table
        .filter(login_failures::scope_key.eq(key))
        .filter(login_failures::created_at.gt(since))
        .order(login_failures::created_at.desc())
        .limit(limit)
        .select(login_failures::created_at)
        .load(conn)?;
    if (recent.len() as i64) < limit {
        return Ok(None);
    }
    // The limit-th most recent failure decides when the count drops below the limit.
    let oldest = recent.last().copied().unwrap_or(now);
    let free_at = oldest + Duration::minutes(WINDOW_MINUTES);
    let seconds = (free_at - now).num_seconds().max(1);
    Ok(Some((seconds + 59) / 60))
}

/// Records one event (a failed login, a reset mail sent) for each key.
pub fn record_failure(
    conn: &mut AnyConnection,
    keys: &[&str],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for key in keys {
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::scope_key.eq(*key),
                login_failures::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    // Old rows only cost space; drop them while we are here.
    diesel::delete(
        login_failures::table
            .filter(login_failures::created_at.lt(now - Duration::minutes(WINDOW_MINUTES))),
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets an account's failures after it logged in successfully.
pub fn clear(conn: &mut AnyConnection, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::scope_key.eq(key)))
        .execute(conn)
        .map(|_| ())
}
