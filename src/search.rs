//! Conversation search: one box, within the mailboxes the user may see.
//!
//! - `#123` or `123`: the conversation with that number.
//! - an address: the conversations of the customer who owns it (`customer_emails` index).
//! - anything else: customers whose first or last name starts with the words, subjects that
//!   contain the text, and message bodies that contain it.
//!
//! Limitation (a simple indexed search; ranked full-text search comes in its own issue):
//! text matching is `LIKE` on lower-cased text (on SQLite plain `LIKE`, which folds ASCII
//! case itself, as SQLite's `lower()` would: only ASCII letters match case-insensitively
//! there, and not lower-casing every body saves a copy of each one read); each kind of text match keeps the newest [`CANDIDATES`]
//! conversations, and bodies are searched in the newest [`BODY_WINDOW`] threads only.
//! Results are newest first by `(last_reply_at, id)`, keyset-paginated like the folders.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::conversations::folders::{self, Cursor, ListRow, MAX_PAGE};
use crate::db::AnyConnection;
use crate::db::schema::{conversations, customer_emails, customers, threads};
use crate::db::types::ConversationState;
use crate::models::user::User;
use crate::permissions;

/// Most conversations each kind of text match contributes.
pub const CANDIDATES: i64 = 500;
/// How many of the newest threads a body search reads.
pub const BODY_WINDOW: i64 = 100_000;
/// Longest query looked at.
const MAX_QUERY_CHARS: usize = 200;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on all three backends.
    fn lower(x: Text) -> Text;
}

/// What a query is taken to mean.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Query {
    Number(i64),
    Email(String),
    Text(String),
}

fn parse(query: &str) -> Option<Query> {
    let q: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
    if q.is_empty() {
        return None;
    }
    let digits = q.strip_prefix('#').unwrap_or(&q);
    if !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && let Ok(n) = digits.parse()
    {
        return Some(Query::Number(n));
    }
    if q.contains('@') && !q.contains(char::is_whitespace) {
        return Some(Query::Email(q.to_lowercase()));
    }
    Some(Query::Text(q.to_lowercase()))
}

/// The LIKE escape character: not `\`, which MySQL string literals treat specially.
const ESCAPE: char = '!';

/// `text` with LIKE's wildcards escaped (with [`ESCAPE`]).
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | ESCAPE) {
            out.push(ESCAPE);
        }
        out.push(c);
    }
    out
}

/// Searches the conversations `user` may see for `query`: a page of up to `limit` rows
/// (clamped to 1..=[`folders::MAX_PAGE`]) after `after`, with the next page's cursor.
/// Drafts are not searched.
pub fn search(
    conn: &mut AnyConnection,
    user: &User,
    query: &str,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<(Vec<ListRow>, Option<Cursor>)> {
    let limit = limit.clamp(1, MAX_PAGE);
    let Some(parsed) = parse(query) else {
        return Ok((Vec::new(), None));
    };
    let visible = permissions::visible_mailbox_ids(conn, user)?;
    if visible.is_empty() {
        return Ok((Vec::new(), None));
    }
    let ids: Vec<i64> = match parsed {
        Query::Number(n) => conversations::table
            .filter(conversations::number.eq(n))
            .select(conversations::id)
            .load(conn)?,
        Query::Email(address) => {
            let owner: Option<i64> = customer_emails::table
                .filter(customer_emails::email.eq(&address))
                .select(customer_emails::customer_id)
                .first(conn)
                .optional()?;
            match owner {
                Some(customer) => conversations::table
                    .filter(conversations::customer_id.eq(customer))
                    .select(conversations::id)
                    .load(conn)?,
                None => Vec::new(),
            }
        }
        Query::Text(text) => text_candidates(conn, &text)?,
    };
    let states = [
        ConversationState::Published.as_i16(),
        ConversationState::Deleted.as_i16(),
    ];
    let keys = folders::keys_among(conn, &visible, &ids, Some(&states), after, limit + 1)?;
    folders::page(conn, keys, user.id, limit)
}

type Db = <AnyConnection as diesel::Connection>::Backend;

/// Conversation ids whose customer's name, subject or a recent message body matches.
fn text_candidates(conn: &mut AnyConnection, text: &str) -> QueryResult<Vec<i64>> {
    let anywhere = format!("%{}%", like_escape(text));
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| format!("{}%", like_escape(w)))
        .collect();
    let mut names = customers::table
        .select(customers::id)
        .order(customers::id.desc())
        .limit(CANDIDATES)
        .into_boxed();
    names = match words.as_slice() {
        [one] => names.filter(
            lower(customers::first_name)
                .like(one)
                .escape(ESCAPE)
                .or(lower(customers::last_name).like(one).escape(ESCAPE)),
        ),
        [first, last, ..] => names.filter(
            lower(customers::first_name)
                .like(first)
                .escape(ESCAPE)
                .and(lower(customers::last_name).like(last).escape(ESCAPE)),
        ),
        [] => return Ok(Vec::new()),
    };
    let customer_ids: Vec<i64> = names.load(conn)?;
    let mut ids: Vec<i64> = conversations::table
        .filter(conversations::customer_id.eq_any(&customer_ids))
        .select(conversations::id)
        .order(conversations::id.desc())
        .limit(CANDIDATES)
        .load(conn)?;
    // SQLite's LIKE already folds ASCII case, and its lower() folds nothing more.
    let sqlite = crate::db::dialect::backend(conn) == crate::db::Backend::Sqlite;
    let subject: Box<
        dyn BoxableExpression<conversations::table, Db, SqlType = diesel::sql_types::Bool> + '_,
    > = if sqlite {
        Box::new(conversations::subject.like(&anywhere).escape(ESCAPE))
    } else {
        Box::new(lower(conversations::subject).like(&anywhere).escape(ESCAPE))
    };
    let body: Box<
        dyn BoxableExpression<threads::table, Db, SqlType = diesel::sql_types::Bool> + '_,
    > = if sqlite {
        Box::new(threads::body_text.like(&anywhere).escape(ESCAPE))
    } else {
        Box::new(lower(threads::body_text).like(&anywhere).escape(ESCAPE))
    };
    ids.extend(
        conversations::table
            .filter(subject)
            .select(conversations::id)
            .order(conversations::id.desc())
            .limit(CANDIDATES)
            .load::<i64>(conn)?,
    );
    let newest: Option<i64> = threads::table
        .select(diesel::dsl::max(threads::id))
        .first(conn)?;
    let floor = newest.unwrap_or(0) - BODY_WINDOW;
    ids.extend(
        threads::table
            .filter(threads::id.gt(floor))
            .filter(body)
            .select(threads::conversation_id)
            .order(threads::id.desc())
            .limit(CANDIDATES)
            .load::<i64>(conn)?,
    );
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_read_as_numbers_addresses_or_text() {
        assert_eq!(parse("#123"), Some(Query::Number(123)));
        assert_eq!(parse(" 42 "), Some(Query::Number(42)));
        assert_eq!(
            parse("Ann@Example.com"),
            Some(Query::Email("ann@example.com".into()))
        );
        assert_eq!(
            parse("Refund please"),
            Some(Query::Text("refund please".into()))
        );
        assert_eq!(parse("#"), Some(Query::Text("#".into())));
        assert_eq!(parse("   "), None);
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Query::Text("99999999999999999999999".into()))
        );
    }

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_escape("50%_off!"), "50!%!_off!!");
    }
}
