//! Checking a login: throttling per account and per address, the same answer for an
//! unknown email and a wrong password, and an activity-log entry for every outcome.

use chrono::NaiveDateTime;

use crate::auth::{password, throttle};
use crate::db::AnyConnection;
use crate::error::AppError;
use crate::models::activity::{self, Activity};
use crate::models::user::{self, User};

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown email, wrong password or an account that may not log in: one answer.
    BadCredentials,
    /// Too many failures; try again in this many minutes.
    Locked(i64),
}

/// Checks `email` and `password` from `ip`. On success the account's failures are
/// forgotten; on failure one is counted for the account and for the address.
pub fn attempt(
    conn: &mut AnyConnection,
    email: &str,
    password_given: &str,
    ip: &str,
    now: NaiveDateTime,
) -> Result<Result<User, Refusal>, AppError> {
    let account_key = throttle::account_key(email);
    let ip_key = throttle::ip_key(ip);
    let locked = match throttle::locked_for(conn, &account_key, throttle::MAX_PER_ACCOUNT, now)? {
        Some(m) => Some(m),
        None => throttle::locked_for(conn, &ip_key, throttle::MAX_PER_IP, now)?,
    };
    if let Some(minutes) = locked {
        let details = format!("{} (locked {minutes} min)", email.trim());
        activity::record(
            conn,
            &Activity {
                action: "login_locked",
                subject_type: "user",
                details: &details,
                ip,
                ..Activity::default()
            },
            now,
        )?;
        return Ok(Err(Refusal::Locked(minutes)));
    }
    let found = user::find_with_hash(conn, email)?;
    let ok = match &found {
        Some((u, hash)) => password::verify(password_given, hash) && u.is_active(),
        None => {
            password::dummy_verify(password_given);
            false
        }
    };
    match found {
        Some((u, _)) if ok => {
            throttle::clear(conn, &account_key)?;
            activity::record(
                conn,
                &Activity {
                    user_id: Some(u.id),
                    action: "login",
                    subject_type: "user",
                    subject_id: Some(u.id),
                    ip,
                    ..Activity::default()
                },
                now,
            )?;
            Ok(Ok(u))
        }
        other => {
            throttle::record_failure(conn, &[&account_key, &ip_key], now)?;
            activity::record(
                conn,
                &Activity {
                    action: "login_failed",
                    subject_type: "user",
                    subject_id: other.map(|(u, _)| u.id),
                    details: email.trim(),
                    ip,
                    ..Activity::default()
                },
                now,
            )?;
            Ok(Err(Refusal::BadCredentials))
        }
    }
}
