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
    crate::db::dialect::write_transaction(&mut *conn, |c| {
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

/// A customer as lists show it: name, company and addresses.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Id.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Addresses, oldest first.
    pub emails: Vec<String>,
}

/// The spellings a query is looked up in: as typed, lower case and capitalised. SQLite's
/// `lower()`/`LIKE` fold ASCII only and PostgreSQL's `LIKE` folds nothing, so "анна" finds
/// "Анна" through the capitalised spelling on every backend.
fn spellings(query: &str) -> Vec<String> {
    let lower = query.to_lowercase();
    let mut chars = lower.chars();
    let capital: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let mut out = vec![query.to_string(), lower, capital];
    out.dedup();
    out.sort();
    out.dedup();
    out
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Customers whose name, company or address contains `query` (all when it is empty),
/// newest first, `limit` of them with ids below `before` (keyset paging). With `mailboxes`,
/// only customers with a conversation in one of them (what an agent may see; admins pass
/// `None`).
pub fn search(
    conn: &mut AnyConnection,
    query: &str,
    mailboxes: Option<&[i64]>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Summary>> {
    use crate::db::schema::conversations;
    let query = query.trim();
    let mut q = customers::table
        .select(Customer::as_select())
        .order(customers::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(customers::id.lt(before));
    }
    if let Some(boxes) = mailboxes {
        q = q.filter(diesel::dsl::exists(
            conversations::table
                .filter(conversations::customer_id.eq(customers::id.nullable()))
                .filter(conversations::mailbox_id.eq_any(boxes.to_vec())),
        ));
    }
    if !query.is_empty() {
        let by_email = customer_emails::table
            .filter(
                customer_emails::email
                    .like(like_pattern(&query.to_lowercase()))
                    .escape('\\'),
            )
            .select(customer_emails::customer_id);
        let mut cond: Box<
            dyn BoxableExpression<customers::table, _, SqlType = diesel::sql_types::Bool>,
        > = Box::new(customers::id.eq_any(by_email));
        for s in spellings(query) {
            let p = like_pattern(&s);
            cond = Box::new(
                cond.or(customers::first_name.like(p.clone()).escape('\\'))
                    .or(customers::last_name.like(p.clone()).escape('\\'))
                    .or(customers::company.like(p).escape('\\')),
            );
        }
        // "Anna Petrova": the whole name matches first + ' ' + last too.
        if let Some((first, last)) = query.split_once(char::is_whitespace) {
            let (first, last) = (first.trim(), last.trim());
            for (f, l) in spellings(first).into_iter().zip(spellings(last)) {
                cond = Box::new(
                    cond.or(customers::first_name
                        .like(like_pattern(&f))
                        .escape('\\')
                        .and(customers::last_name.like(like_pattern(&l)).escape('\\'))),
                );
            }
        }
        q = q.filter(cond);
    }
    let found: Vec<Customer> = q.load(conn)?;
    summaries(conn, found)
}

/// Attaches the addresses to `found`.
fn summaries(conn: &mut AnyConnection, found: Vec<Customer>) -> QueryResult<Vec<Summary>> {
    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
    let rows: Vec<(i64, String)> = customer_emails::table
        .filter(customer_emails::customer_id.eq_any(&ids))
        .order(customer_emails::id)
        .select((customer_emails::customer_id, customer_emails::email))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|c| Summary {
            emails: rows
                .iter()
                .filter(|(id, _)| *id == c.id)
                .map(|(_, e)| e.clone())
                .collect(),
            id: c.id,
            first_name: c.first_name,
            last_name: c.last_name,
            company: c.company,
        })
        .collect())
}

/// One customer, if it exists.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Customer>> {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

/// What an agent may change on a customer.
#[derive(Debug, Clone)]
pub struct CustomerChanges {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// Notes.
    pub notes: String,
    /// The complete list of addresses (lower-cased, at least one).
    pub emails: Vec<String>,
}

/// Why a customer change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// No such customer.
    #[error("no such customer")]
    NotFound,
    /// An address belongs to another customer.
    #[error("{0} belongs to another customer; merge the two customers instead")]
    EmailTaken(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Saves `changes` on customer `id`: fields, and the address list (added, removed), with a
/// `customer_updated` event (modules, API webhooks), in one transaction. Conversations
/// keep the address they were written from. The web page and the REST API both save here.
pub fn update(
    conn: &mut AnyConnection,
    id: i64,
    changes: &CustomerChanges,
) -> Result<(), CustomerError> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let n = diesel::update(customers::table.find(id))
            .set((
                customers::first_name.eq(&changes.first_name),
                customers::last_name.eq(&changes.last_name),
                customers::company.eq(&changes.company),
                customers::job_title.eq(&changes.job_title),
                customers::notes.eq(&changes.notes),
                customers::updated_at.eq(crate::db::now()),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(CustomerError::NotFound);
        }
        for email in &changes.emails {
            let owner: Option<i64> = customer_emails::table
                .filter(customer_emails::email.eq(email))
                .select(customer_emails::customer_id)
                .first(c)
                .optional()?;
            match owner {
                Some(o) if o == id => {}
                Some(_) => return Err(CustomerError::EmailTaken(email.clone())),
                None => {
                    diesel::insert_into(customer_emails::table)
                        .values((
                            customer_emails::customer_id.eq(id),
                            customer_emails::email.eq(email),
                            customer_emails::created_at.eq(crate::db::now()),
                        ))
                        .execute(c)?;
                }
            }
        }
        diesel::delete(
            customer_emails::table
                .filter(customer_emails::customer_id.eq(id))
                .filter(customer_emails::email.ne_all(&changes.emails)),
        )
        .execute(c)?;
        crate::models::event::record(
            c,
            crate::models::event::EventKind::CustomerUpdated,
            crate::models::event::NewEvent {
                payload: serde_json::json!({"customer_id": id}),
                ..crate::models::event::NewEvent::default()
            },
        )?;
        Ok(())
    })
}

/// Merges customer `other` into `keep`: addresses, conversations and threads move to
/// `keep`, empty fields of `keep` are filled from `other`, notes are joined, and `other`
/// is removed. All in one transaction.
pub fn merge(conn: &mut AnyConnection, keep: i64, other: i64) -> Result<(), CustomerError> {
    use crate::db::schema::{conversations, threads};
    if keep == other {
        return Ok(());
    }
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let a = profile(c, keep)?.ok_or(CustomerError::NotFound)?;
        let b = profile(c, other)?.ok_or(CustomerError::NotFound)?;
        let pick = |x: &str, y: &str| {
            if x.trim().is_empty() {
                y.to_string()
            } else {
                x.to_string()
            }
        };
        let notes = match (a.notes.trim().is_empty(), b.notes.trim().is_empty()) {
            (_, true) => a.notes.clone(),
            (true, false) => b.notes.clone(),
            (false, false) => format!("{}\n\n{}", a.notes, b.notes),
        };
        diesel::update(customers::table.find(keep))
            .set((
                customers::first_name.eq(pick(&a.first_name, &b.first_name)),
                customers::last_name.eq(pick(&a.last_name, &b.last_name)),
                customers::company.eq(pick(&a.company, &b.company)),
                customers::job_title.eq(pick(&a.job_title, &b.job_title)),
                customers::notes.eq(notes),
                customers::updated_at.eq(crate::db::now()),
            ))
            .execute(c)?;
        diesel::update(customer_emails::table.filter(customer_emails::customer_id.eq(other)))
            .set(customer_emails::customer_id.eq(keep))
            .execute(c)?;
        diesel::update(conversations::table.filter(conversations::customer_id.eq(other)))
            .set(conversations::customer_id.eq(keep))
            .execute(c)?;
        diesel::update(threads::table.filter(threads::customer_id.eq(other)))
            .set(threads::customer_id.eq(keep))
            .execute(c)?;
        diesel::delete(customers::table.find(other)).execute(c)?;
        Ok(())
    })
}

/// A customer's full record for the profile page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Profile {
    /// Id.
    pub id: i64,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// Notes.
    pub notes: String,
    /// Addresses, oldest first.
    pub emails: Vec<String>,
    /// First seen.
    pub created_at: NaiveDateTime,
}

/// The profile of customer `id`, if it exists.
pub fn profile(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Profile>> {
    let found: Option<(Customer, String)> = customers::table
        .find(id)
        .select((Customer::as_select(), customers::job_title))
        .first(conn)
        .optional()?;
    let Some((c, job_title)) = found else {
        return Ok(None);
    };
    Ok(Some(Profile {
        emails: emails_of(conn, id)?,
        id: c.id,
        first_name: c.first_name,
        last_name: c.last_name,
        company: c.company,
        job_title,
        notes: c.notes,
        created_at: c.created_at,
    }))
}

/// Whether customer `id` has a conversation in one of `mailboxes` (None: admins see all).
pub fn visible(conn: &mut AnyConnection, id: i64, mailboxes: Option<&[i64]>) -> QueryResult<bool> {
    use crate::db::schema::conversations;
    let Some(boxes) = mailboxes else {
        return Ok(true);
    };
    diesel::select(diesel::dsl::exists(
        conversations::table
            .filter(conversations::customer_id.eq(id))
            .filter(conversations::mailbox_id.eq_any(boxes.to_vec())),
    ))
    .get_result(conn)
}

/// A line of a customer's conversation history.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct HistoryRow {
    /// Conversation id.
    pub id: i64,
    /// Its number.
    pub number: i64,
    /// Mailbox id.
    pub mailbox_id: i64,
    /// Subject.
    pub subject: String,
    /// [`crate::db::types::ConversationStatus`] number.
    pub status: i16,
    /// Latest message time.
    pub last_reply_at: NaiveDateTime,
}

/// The newest `limit` conversations of customer `id` in `mailboxes` (None: all), not
/// deleted.
pub fn history(
    conn: &mut AnyConnection,
    id: i64,
    mailboxes: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<HistoryRow>> {
    use crate::db::schema::conversations;
    use crate::db::types::ConversationState;
    let mut q = conversations::table
        .filter(conversations::customer_id.eq(id))
        .filter(conversations::state.eq(ConversationState::Published.as_i16()))
        .order((
            conversations::last_reply_at.desc(),
            conversations::id.desc(),
        ))
        .limit(limit)
        .select((
            conversations::id,
            conversations::number,
            conversations::mailbox_id,
            conversations::subject,
            conversations::status,
            conversations::last_reply_at,
        ))
        .into_boxed();
    if let Some(boxes) = mailboxes {
        q = q.filter(conversations::mailbox_id.eq_any(boxes.to_vec()));
    }
    q.load(conn)
}
