//! Customers: the people who write in, each with one or more email addresses.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{customer_emails, customers};
use crate::db::{AnyConnection, dialect};

/// A customer as read from the database.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = customers)]
pub struct Customer {
    /// Primary key.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Free-text notes by agents.
    pub notes: String,
    /// When the customer first appeared.
    pub created_at: NaiveDateTime,
}

/// Fields for a new customer.
#[derive(Debug, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer<'a> {
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Company.
    pub company: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// Creates a customer with its addresses (lower-cased) in one transaction; returns its id.
/// Fails with a unique violation if an address already belongs to someone.
pub fn create_with_emails(
    conn: &mut AnyConnection,
    new: &NewCustomer<'_>,
    emails: &[&str],
) -> QueryResult<i64> {
    conn.transaction(|c| {
        let id = dialect::insert_returning_id(c, |c| {
            diesel::insert_into(customers::table).values(new).execute(c)
        })?;
        for email in emails {
            diesel::insert_into(customer_emails::table)
                .values((
                    customer_emails::customer_id.eq(id),
                    customer_emails::email.eq(email.trim().to_lowercase()),
                    customer_emails::created_at.eq(new.created_at),
                ))
                .execute(c)?;
        }
        Ok(id)
    })
}

/// The customer owning `email`, if any.
pub fn find_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Option<Customer>> {
    customers::table
        .inner_join(customer_emails::table)
        .filter(customer_emails::email.eq(email.trim().to_lowercase()))
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

/// A customer's addresses, oldest first.
pub fn emails_of(conn: &mut AnyConnection, customer_id: i64) -> QueryResult<Vec<String>> {
    customer_emails::table
        .filter(customer_emails::customer_id.eq(customer_id))
        .order(customer_emails::id)
        .select(customer_emails::email)
        .load(conn)
}

/// The customer owning `email`, creating one (named from the display name) if none does.
/// Returns `(id, created)`. Safe against a concurrent insert of the same address.
pub fn find_or_create(
    conn: &mut AnyConnection,
    email: &str,
    display_name: &str,
    now: NaiveDateTime,
) -> QueryResult<(i64, bool)> {
    if let Some(found) = find_by_email(conn, email)? {
        return Ok((found.id, false));
    }
    let (first, last) = split_name(display_name);
    let new = NewCustomer {
        first_name: &first,
        last_name: &last,
        company: "",
        created_at: now,
        updated_at: now,
    };
    match create_with_emails(conn, &new, &[email]) {
        Ok(id) => Ok((id, true)),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            let found = find_by_email(conn, email)?.ok_or(diesel::result::Error::NotFound)?;
            Ok((found.id, false))
        }
        Err(e) => Err(e),
    }
}

/// Splits a display name into first and last name ("Anna Petrova" -> ("Anna", "Petrova")).
pub fn split_name(display_name: &str) -> (String, String) {
    let name = display_name.trim();
    match name.split_once(char::is_whitespace) {
        Some((first, last)) => (first.to_string(), last.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
}
