//! Agent and admin accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::types::{UserRole, UserStatus};
use crate::db::{AnyConnection, dialect};

/// An account as read from the database.
#[derive(Debug, Clone, Queryable, Selectable)]
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

impl User {
    /// The role, if the stored number is known.
    pub fn role(&self) -> Option<UserRole> {
        UserRole::from_i16(self.role)
    }

    /// The status, if the stored number is known.
    pub fn status(&self) -> Option<UserStatus> {
        UserStatus::from_i16(self.status)
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
