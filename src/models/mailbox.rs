//! Mailboxes: one shared address (support@…) and its mail settings.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::mailboxes;
use crate::db::{AnyConnection, dialect};

/// A mailbox's identity (the mail settings are read where they are used).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    /// Primary key.
    pub id: i64,
    /// Display name, e.g. "Support".
    pub name: String,
    /// The shared address, lower-case.
    pub email: String,
    /// When it was made.
    pub created_at: NaiveDateTime,
}

/// Fields for a new mailbox; mail settings keep their column defaults.
#[derive(Debug, Insertable)]
#[diesel(table_name = mailboxes)]
pub struct NewMailbox<'a> {
    /// Display name.
    pub name: &'a str,
    /// The shared address.
    pub email: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// Inserts a mailbox and returns its id.
pub fn create(conn: &mut AnyConnection, new: &NewMailbox<'_>) -> QueryResult<i64> {
    let email = new.email.trim().to_lowercase();
    let row = NewMailbox {
        email: &email,
        ..*new
    };
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(mailboxes::table)
            .values(&row)
            .execute(c)
    })
}

/// All mailboxes by name.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table
        .order((mailboxes::name, mailboxes::id))
        .select(Mailbox::as_select())
        .load(conn)
}
