//! The folders of a mailbox (Unassigned, Mine, Assigned, Starred, Drafts, Closed, Spam,
//! Deleted): their counts and their lists, newest first.
//!
//! Counts come from `conversation_counts`, which triggers on `conversations` keep exact
//! (see the `workspace` migration), so a page view reads a few small rows instead of
//! counting the mailbox. Lists are keyset-paginated on `(last_reply_at, id)`: each folder
//! is the union of a few exact index ranges (one per status, or per assignee), each read
//! newest first up to the page size and merged here, so no query sorts or skips rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{
    conversation_counts, conversation_reads, conversations, customers, stars, threads, users,
};
use crate::db::types::{ConversationState, ConversationStatus};

/// Most rows one page may ask for.
pub const MAX_PAGE: i64 = 200;

/// A folder of a mailbox, as FreeScout has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Folder {
    /// Published, active or pending, nobody assigned.
    Unassigned,
    /// Published, active or pending, assigned to the viewer.
    Mine,
    /// Published, active or pending, assigned to anyone.
    Assigned,
    /// Published conversations the viewer starred.
    Starred,
    /// Draft conversations the viewer started, and conversations with a draft reply of theirs.
    Drafts,
    /// Published and closed.
    Closed,
    /// Published and marked spam.
    Spam,
    /// In the bin (state deleted), whatever the status.
    Deleted,
}

impl Folder {
    /// Every folder, in the order the sidebar shows them.
    pub const ALL: &'static [Folder] = &[
        Folder::Unassigned,
        Folder::Mine,
        Folder::Assigned,
        Folder::Starred,
        Folder::Drafts,
        Folder::Closed,
        Folder::Spam,
        Folder::Deleted,
    ];

    /// The name in URLs (`?folder=mine`).
    pub fn slug(self) -> &'static str {
        match self {
            Folder::Unassigned => "unassigned",
            Folder::Mine => "mine",
            Folder::Assigned => "assigned",
            Folder::Starred => "starred",
            Folder::Drafts => "drafts",
            Folder::Closed => "closed",
            Folder::Spam => "spam",
            Folder::Deleted => "deleted",
        }
    }

    /// The folder a URL names, or `None` for an unknown name.
    pub fn from_slug(s: &str) -> Option<Folder> {
        Folder::ALL.iter().copied().find(|f| f.slug() == s)
    }
}

/// How many conversations one folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FolderCount {
    /// The folder.
    pub folder: Folder,
    /// Its conversations.
    pub count: i64,
}

/// The statuses the working folders (Unassigned, Mine, Assigned) hold.
const OPEN: [ConversationStatus; 2] = [ConversationStatus::Active, ConversationStatus::Pending];

fn published() -> i16 {
    ConversationState::Published.as_i16()
}

/// The counts of every folder of `mailbox_id` as `user_id` sees them.
pub fn counts(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    user_id: i64,
) -> QueryResult<Vec<FolderCount>> {
    Ok(counts_for(conn, &[mailbox_id], user_id)?
        .remove(&mailbox_id)
        .unwrap_or_default())
}

/// The folder counts of several mailboxes at once (the sidebar), by mailbox id. Reads the
/// counters (a few rows per mailbox and agent), the user's stars and the user's drafts.
pub fn counts_for(
    conn: &mut AnyConnection,
    mailbox_ids: &[i64],
    user_id: i64,
) -> QueryResult<BTreeMap<i64, Vec<FolderCount>>> {
    let mut tally: BTreeMap<i64, BTreeMap<Folder, i64>> = mailbox_ids
        .iter()
        .map(|id| (*id, Folder::ALL.iter().map(|f| (*f, 0)).collect()))
        .collect();
    if mailbox_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(i64, i16, i16, i64, i64)> = conversation_counts::table
        .filter(conversation_counts::mailbox_id.eq_any(mailbox_ids))
        .filter(conversation_counts::n.ne(0))
        .select((
            conversation_counts::mailbox_id,
            conversation_counts::state,
            conversation_counts::status,
            conversation_counts::user_id,
            conversation_counts::n,
        ))
        .load(conn)?;
    for (mailbox_id, state, status, assignee, n) in rows {
        let Some(folders) = tally.get_mut(&mailbox_id) else {
            continue;
        };
        let mut add = |f: Folder| *folders.entry(f).or_default() += n;
        if state == ConversationState::Deleted.as_i16() {
            add(Folder::Deleted);
            continue;
        }
        if state != published() {
            continue;
        }
        match ConversationStatus::from_i16(status) {
            Some(ConversationStatus::Active | ConversationStatus::Pending) => {
                if assignee == 0 {
                    add(Folder::Unassigned);
                } else {
                    add(Folder::Assigned);
                    if assignee == user_id {
                        add(Folder::Mine);
                    }
                }
            }
            Some(ConversationStatus::Closed) => add(Folder::Closed),
            Some(ConversationStatus::Spam) => add(Folder::Spam),
            None => {}
        }
    }
    let starred: Vec<(i64, i64)> = stars::table
        .inner_join(conversations::table)
        .filter(stars::user_id.eq(user_id))
        .filter(conversations::mailbox_id.eq_any(mailbox_ids))
        .filter(conversations::state.eq(published()))
        .group_by(conversations::mailbox_id)
        .select((conversations::mailbox_id, diesel::dsl::count_star()))
        .load(conn)?;
    for (mailbox_id, n) in starred {
        if let Some(folders) = tally.get_mut(&mailbox_id) {
            folders.insert(Folder::Starred, n);
        }
    }
    for (mailbox_id, _) in drafts(conn, mailbox_ids, user_id)? {
        if let Some(folders) = tally.get_mut(&mailbox_id) {
            *folders.entry(Folder::Drafts).or_default() += 1;
        }
    }
    Ok(tally
        .into_iter()
        .map(|(id, folders)| {
            let list = Folder::ALL
                .iter()
                .map(|f| FolderCount {
                    folder: *f,
                    count: folders.get(f).copied().unwrap_or(0),
                })
                .collect();
            (id, list)
        })
        .collect())
}

/// `(mailbox_id, conversation_id)` of every conversation in `mailbox_ids` with a draft of
/// `user_id`'s: a draft conversation they started or a draft reply they wrote. Both go
/// through the `(created_by_user_id, state)` indexes, so the cost is the user's drafts.
fn drafts(
    conn: &mut AnyConnection,
    mailbox_ids: &[i64],
    user_id: i64,
) -> QueryResult<BTreeSet<(i64, i64)>> {
    let draft = ConversationState::Draft.as_i16();
    let mut found: BTreeSet<(i64, i64)> = conversations::table
        .filter(conversations::created_by_user_id.eq(user_id))
        .filter(conversations::state.eq(draft))
        .filter(conversations::mailbox_id.eq_any(mailbox_ids))
        .select((conversations::mailbox_id, conversations::id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let replies: Vec<(i64, i64)> = threads::table
        .inner_join(conversations::table)
        .filter(threads::created_by_user_id.eq(user_id))
        .filter(threads::state.eq(draft))
        .filter(conversations::mailbox_id.eq_any(mailbox_ids))
        .filter(conversations::state.ne(ConversationState::Deleted.as_i16()))
        .select((conversations::mailbox_id, conversations::id))
        .load(conn)?;
    found.extend(replies);
    Ok(found)
}

/// Where the next page starts: the last row shown, by `(last_reply_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last shown row's reply time.
    pub last_reply_at: NaiveDateTime,
    /// The last shown row's id.
    pub id: i64,
}

impl Cursor {
    /// The cursor as a URL value (`<microseconds>.<id>`).
    pub fn to_param(&self) -> String {
        format!(
            "{}.{}",
            self.last_reply_at.and_utc().timestamp_micros(),
            self.id
        )
    }

    /// Reads a URL value made by [`Cursor::to_param`]; anything else is `None`.
    pub fn from_param(s: &str) -> Option<Cursor> {
        let (micros, id) = s.trim().split_once('.')?;
        let last_reply_at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        let id: i64 = id.parse().ok()?;
        (id > 0).then_some(Cursor {
            last_reply_at: last_reply_at.naive_utc(),
            id,
        })
    }
}

/// One conversation as lists (folders, search, the API) show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListRow {
    /// Conversation id.
    pub id: i64,
    /// Its number.
    pub number: i64,
    /// Its mailbox.
    pub mailbox_id: i64,
    /// Subject line.
    pub subject: String,
    /// Start of the latest message.
    pub preview: String,
    /// The customer's name ("" when unknown; show the address then).
    pub customer_name: String,
    /// The customer's address.
    pub customer_email: String,
    /// How many threads it has.
    pub threads_count: i32,
    /// Whether any thread has attachments.
    pub has_attachments: bool,
    /// The assignee.
    pub assignee_id: Option<i64>,
    /// The assignee's name ("" when nobody).
    pub assignee_name: String,
    /// [`ConversationStatus`] number.
    pub status: i16,
    /// [`ConversationState`] number.
    pub state: i16,
    /// Time of the latest message.
    pub last_reply_at: NaiveDateTime,
    /// Nothing new since the viewer last read it? `false` means read.
    pub unread: bool,
    /// Starred by the viewer.
    pub starred: bool,
}

/// Which assignee an index range holds.
#[derive(Debug, Clone, Copy)]
enum Assignee {
    Any,
    Nobody,
    User(i64),
}

/// One exact index range of a folder: a state and status, and maybe an assignee.
#[derive(Debug, Clone, Copy)]
struct Range {
    state: i16,
    status: i16,
    assignee: Assignee,
}

/// A page of `folder` in `mailbox_id` as `user_id` sees it, newest first, starting after
/// `after`; with the cursor of the next page when there is one. `limit` is clamped to
/// 1..=[`MAX_PAGE`]. The caller checks that the user may see the mailbox.
pub fn list(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    folder: Folder,
    user_id: i64,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<(Vec<ListRow>, Option<Cursor>)> {
    let limit = limit.clamp(1, MAX_PAGE);
    let take = limit + 1;
    let keys = match folder {
        Folder::Unassigned | Folder::Mine | Folder::Assigned => {
            let assignees = match folder {
                Folder::Unassigned => vec![Assignee::Nobody],
                Folder::Mine => vec![Assignee::User(user_id)],
                _ => assignees_with_open(conn, mailbox_id)?
                    .into_iter()
                    .map(Assignee::User)
                    .collect(),
            };
            let ranges: Vec<Range> = OPEN
                .iter()
                .flat_map(|s| {
                    assignees.iter().map(|a| Range {
                        state: published(),
                        status: s.as_i16(),
                        assignee: *a,
                    })
                })
                .collect();
            keys_in_ranges(conn, mailbox_id, &ranges, after, take)?
        }
        Folder::Closed | Folder::Spam => {
            let status = if folder == Folder::Closed {
                ConversationStatus::Closed
            } else {
                ConversationStatus::Spam
            };
            let range = Range {
                state: published(),
                status: status.as_i16(),
                assignee: Assignee::Any,
            };
            keys_in_ranges(conn, mailbox_id, &[range], after, take)?
        }
        Folder::Deleted => {
            let ranges: Vec<Range> = ConversationStatus::ALL
                .iter()
                .map(|s| Range {
                    state: ConversationState::Deleted.as_i16(),
                    status: s.as_i16(),
                    assignee: Assignee::Any,
                })
                .collect();
            keys_in_ranges(conn, mailbox_id, &ranges, after, take)?
        }
        Folder::Starred => {
            let ids: Vec<i64> = stars::table
                .filter(stars::user_id.eq(user_id))
                .select(stars::conversation_id)
                .load(conn)?;
            keys_among(conn, &[mailbox_id], &ids, Some(&[published()]), after, take)?
        }
        Folder::Drafts => {
            let ids: Vec<i64> = drafts(conn, &[mailbox_id], user_id)?
                .into_iter()
                .map(|(_, id)| id)
                .collect();
            keys_among(conn, &[mailbox_id], &ids, None, after, take)?
        }
    };
    page(conn, keys, user_id, limit)
}

/// Turns the merged keys of a page (newest first, up to `limit + 1`) into rows and the
/// next page's cursor.
pub(crate) fn page(
    conn: &mut AnyConnection,
    mut keys: Vec<(NaiveDateTime, i64)>,
    user_id: i64,
    limit: i64,
) -> QueryResult<(Vec<ListRow>, Option<Cursor>)> {
    keys.sort_unstable_by(|a, b| b.cmp(a));
    keys.dedup();
    let limit = usize::try_from(limit).unwrap_or(1);
    let next = (keys.len() > limit).then(|| {
        let (last_reply_at, id) = keys[limit - 1];
        Cursor { last_reply_at, id }
    });
    keys.truncate(limit);
    let ids: Vec<i64> = keys.iter().map(|(_, id)| *id).collect();
    Ok((rows_for(conn, &ids, user_id)?, next))
}

/// Assignees with active or pending conversations in the mailbox, from the counters.
fn assignees_with_open(conn: &mut AnyConnection, mailbox_id: i64) -> QueryResult<Vec<i64>> {
    let open: Vec<i16> = OPEN.iter().map(|s| s.as_i16()).collect();
    let mut ids: Vec<i64> = conversation_counts::table
        .filter(conversation_counts::mailbox_id.eq(mailbox_id))
        .filter(conversation_counts::state.eq(published()))
        .filter(conversation_counts::status.eq_any(open))
        .filter(conversation_counts::user_id.ne(0))
        .filter(conversation_counts::n.gt(0))
        .select(conversation_counts::user_id)
        .load(conn)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

type Backend = <AnyConnection as diesel::Connection>::Backend;

/// Rows after `c` in newest-first order. The first condition bounds the index range; the
/// second excludes the cursor's own time up to its id.
fn older_than(
    c: &Cursor,
) -> Box<dyn BoxableExpression<conversations::table, Backend, SqlType = diesel::sql_types::Bool>> {
    Box::new(
        conversations::last_reply_at.le(c.last_reply_at).and(
            conversations::last_reply_at
                .lt(c.last_reply_at)
                .or(conversations::id.lt(c.id)),
        ),
    )
}

/// The newest `take` keys after `after` in each range (each an exact prefix of
/// `ix_conversations_folder` or `ix_conversations_list`).
fn keys_in_ranges(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    ranges: &[Range],
    after: Option<&Cursor>,
    take: i64,
) -> QueryResult<Vec<(NaiveDateTime, i64)>> {
    let mut keys = Vec::new();
    for r in ranges {
        let mut q = conversations::table
            .filter(conversations::mailbox_id.eq(mailbox_id))
            .filter(conversations::state.eq(r.state))
            .filter(conversations::status.eq(r.status))
            .select((conversations::last_reply_at, conversations::id))
            .order((
                conversations::last_reply_at.desc(),
                conversations::id.desc(),
            ))
            .limit(take)
            .into_boxed();
        q = match r.assignee {
            Assignee::Any => q,
            Assignee::Nobody => q.filter(conversations::user_id.is_null()),
            Assignee::User(u) => q.filter(conversations::user_id.eq(u)),
        };
        if let Some(c) = after {
            q = q.filter(older_than(c));
        }
        keys.extend(q.load::<(NaiveDateTime, i64)>(conn)?);
    }
    Ok(keys)
}

/// The newest `take` keys after `after` among `ids` (a user's stars or drafts, search
/// candidates) that lie in `mailbox_ids` and, when given, in one of `states`.
pub(crate) fn keys_among(
    conn: &mut AnyConnection,
    mailbox_ids: &[i64],
    ids: &[i64],
    states: Option<&[i16]>,
    after: Option<&Cursor>,
    take: i64,
) -> QueryResult<Vec<(NaiveDateTime, i64)>> {
    let mut keys = Vec::new();
    // Chunks stay under every backend's limit on bound parameters.
    for chunk in ids.chunks(5_000) {
        let mut q = conversations::table
            .filter(conversations::id.eq_any(chunk))
            .filter(conversations::mailbox_id.eq_any(mailbox_ids))
            .select((conversations::last_reply_at, conversations::id))
            .order((
                conversations::last_reply_at.desc(),
                conversations::id.desc(),
            ))
            .limit(take)
            .into_boxed();
        if let Some(states) = states {
            q = q.filter(conversations::state.eq_any(states));
        }
        if let Some(c) = after {
            q = q.filter(older_than(c));
        }
        keys.extend(q.load::<(NaiveDateTime, i64)>(conn)?);
    }
    Ok(keys)
}

#[derive(Queryable)]
struct Base {
    id: i64,
    number: i64,
    mailbox_id: i64,
    subject: String,
    preview: String,
    customer_email: String,
    threads_count: i32,
    has_attachments: bool,
    user_id: Option<i64>,
    status: i16,
    state: i16,
    last_reply_at: NaiveDateTime,
}

/// What [`rows_for`] reads beside the conversation: the customer's and the assignee's
/// names, whether the user starred it, and when the user last read it.
#[derive(Queryable)]
struct Extra {
    customer_first: Option<String>,
    customer_last: Option<String>,
    agent_first: Option<String>,
    agent_last: Option<String>,
    starred: Option<i64>,
    read_at: Option<NaiveDateTime>,
}

/// "First Last", or "" when there is no such person.
fn full_name(first: Option<String>, last: Option<String>) -> String {
    format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
        .trim()
        .to_string()
}

/// The list rows of `ids`, in the order given, as `user_id` sees them (unread, starred).
/// One query: the customer, the assignee, the user's star and read mark are joined in.
pub(crate) fn rows_for(
    conn: &mut AnyConnection,
    ids: &[i64],
    user_id: i64,
) -> QueryResult<Vec<ListRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(Base, Extra)> = conversations::table
        .left_join(customers::table.on(conversations::customer_id.eq(customers::id.nullable())))
        .left_join(users::table.on(conversations::user_id.eq(users::id.nullable())))
        .left_join(
            stars::table.on(stars::conversation_id
                .eq(conversations::id)
                .and(stars::user_id.eq(user_id))),
        )
        .left_join(
            conversation_reads::table.on(conversation_reads::conversation_id
                .eq(conversations::id)
                .and(conversation_reads::user_id.eq(user_id))),
        )
        .filter(conversations::id.eq_any(ids))
        .select((
            (
                conversations::id,
                conversations::number,
                conversations::mailbox_id,
                conversations::subject,
                conversations::preview,
                conversations::customer_email,
                conversations::threads_count,
                conversations::has_attachments,
                conversations::user_id,
                conversations::status,
                conversations::state,
                conversations::last_reply_at,
            ),
            (
                customers::first_name.nullable(),
                customers::last_name.nullable(),
                users::first_name.nullable(),
                users::last_name.nullable(),
                stars::conversation_id.nullable(),
                conversation_reads::read_at.nullable(),
            ),
        ))
        .load(conn)?;
    let mut by_id: HashMap<i64, ListRow> = found
        .into_iter()
        .map(|(b, x)| {
            let row = ListRow {
                id: b.id,
                number: b.number,
                mailbox_id: b.mailbox_id,
                subject: b.subject,
                preview: b.preview,
                customer_name: full_name(x.customer_first, x.customer_last),
                customer_email: b.customer_email,
                threads_count: b.threads_count,
                has_attachments: b.has_attachments,
                assignee_id: b.user_id,
                assignee_name: full_name(x.agent_first, x.agent_last),
                status: b.status,
                state: b.state,
                last_reply_at: b.last_reply_at,
                unread: x.read_at.is_none_or(|at| at < b.last_reply_at),
                starred: x.starred.is_some(),
            };
            (b.id, row)
        })
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for f in Folder::ALL {
            assert_eq!(Folder::from_slug(f.slug()), Some(*f));
        }
        assert_eq!(Folder::from_slug("inbox"), None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let at = chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456)
            .map(|d| d.naive_utc())
            .unwrap();
        let c = Cursor {
            last_reply_at: at,
            id: 42,
        };
        assert_eq!(Cursor::from_param(&c.to_param()), Some(c));
        for bad in [
            "",
            "x",
            "1.",
            ".2",
            "1.-3",
            "1.0",
            "99999999999999999999.1",
            "1.2.3",
        ] {
            assert_eq!(Cursor::from_param(bad), None, "{bad}");
        }
    }
}
