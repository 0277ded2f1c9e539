//! Agent and admin accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{conversations, mailbox_users, sessions, user_tokens, users};
use crate::db::types::{UserRole, UserStatus};
use crate::db::{AnyConnection, dialect};

/// An account as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = users)]
pub struct User {
    /// Primary key.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Login email, stored lower-case.
    pub email: String,
    /// [`UserRole`] number.
    pub role: i16,
    /// [`UserStatus`] number.
    pub status: i16,
    /// `en` or `ru`.
    pub locale: String,
    /// IANA time zone name.
    pub timezone: String,
    /// When the account was made.
    pub created_at: NaiveDateTime,
    /// 12 or 24 (hour clock).
    pub time_format: i16,
}

/// Fields for a new account.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Login email (lower-cased by [`create`]).
    pub email: &'a str,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// [`UserRole`] number.
    pub role: i16,
    /// [`UserStatus`] number.
    pub status: i16,
    /// `en` or `ru`.
    pub locale: &'a str,
    /// IANA time zone name.
    pub timezone: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

impl<'a> NewUser<'a> {
    /// An active account in English on UTC; override fields with struct update syntax.
    pub fn active(
        first_name: &'a str,
        last_name: &'a str,
        email: &'a str,
        password_hash: &'a str,
        role: UserRole,
        now: NaiveDateTime,
    ) -> Self {
        NewUser {
            first_name,
            last_name,
            email,
            password_hash,
            role: role.as_i16(),
            status: UserStatus::Active.as_i16(),
            locale: "en",
            timezone: "UTC",
            created_at: now,
            updated_at: now,
        }
    }
}

/// What a user may change on their own profile.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChanges {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Login email (lower-case).
    pub email: String,
    /// IANA time zone name.
    pub timezone: String,
    /// `en` or `ru`.
    pub locale: String,
    /// 12 or 24.
    pub time_format: i16,
    /// Change time.
    pub updated_at: NaiveDateTime,
}

impl User {
    /// The role, if the stored number is known.
    pub fn role(&self) -> Option<UserRole> {
        UserRole::from_i16(self.role)
    }

    /// The status, if the stored number is known.
    pub fn status(&self) -> Option<UserStatus> {
        UserStatus::from_i16(self.status)
    }

    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.role() == Some(UserRole::Admin)
    }

    /// True when the account may log in.
    pub fn is_active(&self) -> bool {
        self.status() == Some(UserStatus::Active)
    }

    /// "First Last", trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    /// Up to two capital letters for the avatar.
    pub fn initials(&self) -> String {
        let mut out: String = [&self.first_name, &self.last_name]
            .iter()
            .filter_map(|n| n.chars().next())
            .flat_map(char::to_uppercase)
            .collect();
        if out.is_empty() {
            out = self
                .email
                .chars()
                .take(1)
                .flat_map(char::to_uppercase)
                .collect();
        }
        out
    }
}

/// Splits "Anna Maria Smith" into ("Anna Maria", "Smith"); one word is a first name.
pub fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_string(), last.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// Inserts an account and returns its id.
pub fn create(conn: &mut AnyConnection, new: &NewUser<'_>) -> QueryResult<i64> {
    let email = new.email.trim().to_lowercase();
    let row = NewUser {
        email: &email,
        ..*new
    };
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(users::table).values(&row).execute(c)
    })
}

/// Finds an account by email, case-insensitively.
pub fn find_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// One account by id.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// An account and its password hash, by email, for checking a login.
pub fn find_with_hash(
    conn: &mut AnyConnection,
    email: &str,
) -> QueryResult<Option<(User, String)>> {
    users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select((User::as_select(), users::password_hash))
        .first(conn)
        .optional()
}

/// The stored password hash of an account.
pub fn password_hash(conn: &mut AnyConnection, id: i64) -> QueryResult<String> {
    users::table
        .find(id)
        .select(users::password_hash)
        .first(conn)
}

/// Every account that is not deleted, admins first, then by name.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::status.ne(UserStatus::Deleted.as_i16()))
        .order((
            users::role.desc(),
            users::first_name,
            users::last_name,
            users::id,
        ))
        .select(User::as_select())
        .load(conn)
}

/// Replaces the password hash.
pub fn set_password(
    conn: &mut AnyConnection,
    id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

/// Saves profile fields.
pub fn update_profile(
    conn: &mut AnyConnection,
    id: i64,
    changes: &ProfileChanges,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

/// Changes the role.
pub fn set_role(
    conn: &mut AnyConnection,
    id: i64,
    role: UserRole,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::role.eq(role.as_i16()), users::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}

/// Enables or disables an account. Disabling ends its sessions at once.
pub fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: UserStatus,
    now: NaiveDateTime,
) -> QueryResult<()> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        diesel::update(users::table.find(id))
            .set((users::status.eq(status.as_i16()), users::updated_at.eq(now)))
            .execute(c)?;
        if status != UserStatus::Active {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(c)?;
        }
        Ok(())
    })
}

/// Deletes an account: its conversations become unassigned, its sessions, links and
/// mailbox access go, and the row stays (status deleted, email freed) so history keeps
/// the name.
pub fn delete(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        diesel::update(conversations::table.filter(conversations::user_id.eq(id)))
            .set(conversations::user_id.eq(None::<i64>))
            .execute(c)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(c)?;
        diesel::delete(user_tokens::table.filter(user_tokens::user_id.eq(id))).execute(c)?;
        diesel::delete(mailbox_users::table.filter(mailbox_users::user_id.eq(id))).execute(c)?;
        diesel::update(users::table.find(id))
            .set((
                users::status.eq(UserStatus::Deleted.as_i16()),
                users::email.eq(format!("deleted-{id}@deleted.invalid")),
                users::password_hash.eq(""),
                users::updated_at.eq(now),
            ))
            .execute(c)?;
        Ok(())
    })
}
