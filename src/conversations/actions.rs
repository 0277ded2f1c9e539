//! What agents do to a conversation: status, assignee, mailbox, merge, delete/restore, and
//! their own star, follow and read marks.
//!
//! Each change runs in one transaction that also writes a grey line item (a
//! [`ThreadType::LineItem`] thread whose `action_data` JSON names who did it and what, so a
//! page can print "Anna assigned this to Boris") and an `events` row for the after-hooks.
//! Nothing is written when nothing changes; those functions return `false` then.
//!
//! Permission checks are the caller's job (see `crate::permissions`): the web routes and
//! the API decide who may call what. `move_to_mailbox` and `merge` touch two mailboxes, so
//! callers must check the user's access to BOTH.
//!
//! `action_data` shapes (every one has `by`, the acting agent as `{"id", "name"}`):
//! status `{"status", "previous"}` (numbers); assign `{"assignee", "previous"}` (agents or
//! null); move `{"from_mailbox", "to_mailbox"}` (`{"id", "name"}`); merge, in the target
//! `{"merged": {"id", "number"}}` and in the source `{"into": {"id", "number"}}`; delete and
//! restore `{}` beyond `by`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    attachments, conversation_reads, conversations, followers, mailboxes, message_ids, outbox,
    stars, threads, users,
};
use crate::db::types::{ConversationState, ConversationStatus, LineItemAction, ThreadType};
use crate::db::{self, AnyConnection, dialect};
use crate::models::event::{self, EventKind, NewEvent};

/// Why an action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The conversation (or the other conversation, mailbox or user named) does not exist.
    #[error("the conversation does not exist")]
    NotFound,
    /// The request makes no sense (merging a conversation with itself, assigning to an
    /// agent who cannot see the mailbox…); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// A module refused the change (`conversation_before_status_change`).
    #[error("the module {module} refused: {reason}")]
    Vetoed {
        /// Which module.
        module: String,
        /// Its reason, for the agent.
        reason: String,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// What the actions need to know about a conversation before changing it.
#[derive(Debug, Clone, Queryable)]
struct Current {
    id: i64,
    number: i64,
    mailbox_id: i64,
    user_id: Option<i64>,
    status: i16,
    state: i16,
}

fn current(c: &mut AnyConnection, id: i64) -> Result<Current, ActionError> {
    conversations::table
        .find(id)
        .select((
            conversations::id,
            conversations::number,
            conversations::mailbox_id,
            conversations::user_id,
            conversations::status,
            conversations::state,
        ))
        .first(c)
        .optional()?
        .ok_or(ActionError::NotFound)
}

/// `{"id", "name"}` of an agent, for line items.
fn agent(c: &mut AnyConnection, id: i64) -> QueryResult<serde_json::Value> {
    let name: Option<(String, String)> = users::table
        .find(id)
        .select((users::first_name, users::last_name))
        .first(c)
        .optional()?;
    let name = name
        .map(|(f, l)| format!("{f} {l}").trim().to_string())
        .unwrap_or_default();
    Ok(serde_json::json!({"id": id, "name": name}))
}

/// `{"id", "name"}` of a mailbox, for line items.
fn mailbox_ref(c: &mut AnyConnection, id: i64) -> QueryResult<serde_json::Value> {
    let name: String = mailboxes::table
        .find(id)
        .select(mailboxes::name)
        .first(c)
        .optional()?
        .unwrap_or_default();
    Ok(serde_json::json!({"id": id, "name": name}))
}

/// Adds a line item to `conversation_id`. Line items are not messages: they change neither
/// the thread count nor the reply time.
fn line_item(
    c: &mut AnyConnection,
    conversation_id: i64,
    status: i16,
    action: LineItemAction,
    by_user: i64,
    mut data: serde_json::Value,
) -> QueryResult<i64> {
    if let Some(map) = data.as_object_mut() {
        map.insert("by".into(), agent(c, by_user)?);
    }
    let now = db::now();
    let json = data.to_string();
    let row = crate::models::thread::NewThread {
        conversation_id,
        thread_type: ThreadType::LineItem.as_i16(),
        status,
        action_type: Some(action.as_i16()),
        action_data: &json,
        created_by_user_id: Some(by_user),
        created_at: now,
        updated_at: now,
        ..Default::default()
    };
    let id = dialect::insert_returning_id(c, |c| {
        diesel::insert_into(threads::table).values(&row).execute(c)
    })?;
    diesel::update(conversations::table.find(conversation_id))
        .set(conversations::updated_at.eq(now))
        .execute(c)?;
    Ok(id)
}

fn record(
    c: &mut AnyConnection,
    kind: EventKind,
    conv: &Current,
    thread_id: i64,
    by_user: i64,
    payload: serde_json::Value,
) -> QueryResult<()> {
    event::record(
        c,
        kind,
        NewEvent {
            mailbox_id: Some(conv.mailbox_id),
            conversation_id: Some(conv.id),
            thread_id: Some(thread_id),
            user_id: Some(by_user),
            payload,
        },
    )
}

/// Sets the status (Spam and "not spam" are `Spam` and `Active`). Modules are asked first
/// (`conversation_before_status_change`, outside the transaction since a module may use its
/// storage); a refusal is [`ActionError::Vetoed`]. Closing records when and by whom.
pub fn set_status(
    conn: &mut AnyConnection,
    hooks: &crate::hooks::Registry,
    conversation_id: i64,
    status: ConversationStatus,
    by_user: i64,
) -> Result<bool, ActionError> {
    let before = current(conn, conversation_id)?;
    if before.status == status.as_i16() {
        return Ok(false);
    }
    let change = postdesk_module_api::payloads::StatusChange {
        conversation_id,
        mailbox_id: before.mailbox_id,
        from: before.status,
        to: status.as_i16(),
        user_id: Some(by_user),
    };
    if let Err(veto) = hooks.conversation_before_status_change(&change) {
        return Err(ActionError::Vetoed {
            module: veto.module,
            reason: veto.reason,
        });
    }
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let conv = current(c, conversation_id)?;
        if conv.status == status.as_i16() {
            return Ok(false);
        }
        let now = db::now();
        let closed = status == ConversationStatus::Closed;
        diesel::update(conversations::table.find(conversation_id))
            .set((
                conversations::status.eq(status.as_i16()),
                conversations::closed_at.eq(closed.then_some(now)),
                conversations::closed_by_user_id.eq(closed.then_some(by_user)),
                conversations::updated_at.eq(now),
            ))
            .execute(c)?;
        let data = serde_json::json!({"status": status.as_i16(), "previous": conv.status});
        let thread_id = line_item(
            c,
            conversation_id,
            status.as_i16(),
            LineItemAction::StatusChanged,
            by_user,
            data.clone(),
        )?;
        record(c, EventKind::StatusChanged, &conv, thread_id, by_user, data)?;
        Ok(true)
    })
}

/// Assigns the conversation to `assignee` (None: nobody). The assignee must be an active
/// agent who may see the conversation's mailbox. Writes the `assigned` event (through
/// [`super::assign::assign`]) and a line item.
pub fn assign(
    conn: &mut AnyConnection,
    conversation_id: i64,
    assignee: Option<i64>,
    by_user: i64,
) -> Result<bool, ActionError> {
    let conv = current(conn, conversation_id)?;
    if conv.user_id == assignee {
        return Ok(false);
    }
    if let Some(id) = assignee {
        let user = crate::models::user::find(conn, id)?
            .ok_or_else(|| ActionError::Invalid("no such user".into()))?;
        if !crate::permissions::can_view_mailbox(conn, &user, conv.mailbox_id)? {
            return Err(ActionError::Invalid(
                "that user cannot see this mailbox".into(),
            ));
        }
    }
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let conv = current(c, conversation_id)?;
        if conv.user_id == assignee {
            return Ok(false);
        }
        super::assign::assign(c, conversation_id, assignee, Some(by_user))?;
        let named = match assignee {
            Some(id) => agent(c, id)?,
            None => serde_json::Value::Null,
        };
        let previous = match conv.user_id {
            Some(id) => agent(c, id)?,
            None => serde_json::Value::Null,
        };
        line_item(
            c,
            conversation_id,
            conv.status,
            LineItemAction::UserChanged,
            by_user,
            serde_json::json!({"assignee": named, "previous": previous}),
        )?;
        Ok(true)
    })
}

/// Moves the message-id index entries of `from` (a conversation) to `to` in `mailbox_id`,
/// so replies to its messages still thread. An id the target mailbox already knows stays
/// with the conversation that has it there (the first one wins, as on arrival).
fn move_message_ids(c: &mut AnyConnection, from: i64, to: i64, mailbox_id: i64) -> QueryResult<()> {
    let own: Vec<String> = message_ids::table
        .filter(message_ids::conversation_id.eq(from))
        .select(message_ids::message_id)
        .load(c)?;
    // Chunks stay under every backend's limit on bound parameters.
    for chunk in own.chunks(1_000) {
        let taken: Vec<String> = message_ids::table
            .filter(message_ids::mailbox_id.eq(mailbox_id))
            .filter(message_ids::conversation_id.ne(from))
            .filter(message_ids::message_id.eq_any(chunk))
            .select(message_ids::message_id)
            .load(c)?;
        if taken.is_empty() {
            continue;
        }
        diesel::delete(
            message_ids::table
                .filter(message_ids::conversation_id.eq(from))
                .filter(message_ids::message_id.eq_any(&taken)),
        )
        .execute(c)?;
    }
    diesel::update(message_ids::table.filter(message_ids::conversation_id.eq(from)))
        .set((
            message_ids::conversation_id.eq(to),
            message_ids::mailbox_id.eq(mailbox_id),
        ))
        .execute(c)
        .map(|_| ())
}

/// Moves the conversation to another mailbox, with its message-id index (so replies keep
/// threading there). Callers check access to both mailboxes.
pub fn move_to_mailbox(
    conn: &mut AnyConnection,
    conversation_id: i64,
    mailbox_id: i64,
    by_user: i64,
) -> Result<bool, ActionError> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let conv = current(c, conversation_id)?;
        if conv.mailbox_id == mailbox_id {
            return Ok(false);
        }
        let exists: i64 = mailboxes::table
            .filter(mailboxes::id.eq(mailbox_id))
            .count()
            .get_result(c)?;
        if exists == 0 {
            return Err(ActionError::Invalid("no such mailbox".into()));
        }
        diesel::update(conversations::table.find(conversation_id))
            .set((
                conversations::mailbox_id.eq(mailbox_id),
                conversations::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        move_message_ids(c, conversation_id, conversation_id, mailbox_id)?;
        let data = serde_json::json!({
            "from_mailbox": mailbox_ref(c, conv.mailbox_id)?,
            "to_mailbox": mailbox_ref(c, mailbox_id)?,
        });
        let thread_id = line_item(
            c,
            conversation_id,
            conv.status,
            LineItemAction::MovedFromMailbox,
            by_user,
            data,
        )?;
        // The event belongs to the new mailbox; the payload names both.
        let moved = Current {
            mailbox_id,
            ..conv.clone()
        };
        record(
            c,
            EventKind::Moved,
            &moved,
            thread_id,
            by_user,
            serde_json::json!({"from_mailbox_id": conv.mailbox_id, "to_mailbox_id": mailbox_id}),
        )?;
        Ok(true)
    })
}

/// Merges `source_id` into `target_id`: threads, attachments, queued mail, the message-id
/// index and followers move to the target; the target's thread count, preview, reply time
/// and attachment mark follow; the source goes to Deleted. Both get a line item; the
/// target gets the `merged` event. Callers check access to both mailboxes.
pub fn merge(
    conn: &mut AnyConnection,
    source_id: i64,
    target_id: i64,
    by_user: i64,
) -> Result<(), ActionError> {
    if source_id == target_id {
        return Err(ActionError::Invalid(
            "a conversation cannot be merged with itself".into(),
        ));
    }
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let source = current(c, source_id)?;
        let target = current(c, target_id)?;
        diesel::update(threads::table.filter(threads::conversation_id.eq(source_id)))
            .set(threads::conversation_id.eq(target_id))
            .execute(c)?;
        diesel::update(attachments::table.filter(attachments::conversation_id.eq(source_id)))
            .set(attachments::conversation_id.eq(target_id))
            .execute(c)?;
        diesel::update(outbox::table.filter(outbox::conversation_id.eq(source_id)))
            .set(outbox::conversation_id.eq(target_id))
            .execute(c)?;
        move_message_ids(c, source_id, target_id, target.mailbox_id)?;
        let following: Vec<i64> = followers::table
            .filter(followers::conversation_id.eq(target_id))
            .select(followers::user_id)
            .load(c)?;
        diesel::update(
            followers::table
                .filter(followers::conversation_id.eq(source_id))
                .filter(followers::user_id.ne_all(following)),
        )
        .set(followers::conversation_id.eq(target_id))
        .execute(c)?;
        refresh_summary(c, target_id)?;
        let now = db::now();
        diesel::update(conversations::table.find(source_id))
            .set((
                conversations::state.eq(ConversationState::Deleted.as_i16()),
                conversations::threads_count.eq(0),
                conversations::has_attachments.eq(false),
                conversations::updated_at.eq(now),
            ))
            .execute(c)?;
        line_item(
            c,
            source_id,
            source.status,
            LineItemAction::Merged,
            by_user,
            serde_json::json!({"into": {"id": target_id, "number": target.number}}),
        )?;
        let thread_id = line_item(
            c,
            target_id,
            target.status,
            LineItemAction::Merged,
            by_user,
            serde_json::json!({"merged": {"id": source_id, "number": source.number}}),
        )?;
        record(
            c,
            EventKind::Merged,
            &target,
            thread_id,
            by_user,
            serde_json::json!({"source_id": source_id, "source_number": source.number}),
        )?;
        Ok(())
    })
}

/// Recomputes a conversation's thread count, attachment mark, reply time and preview from
/// its threads (after a merge brought new ones in).
fn refresh_summary(c: &mut AnyConnection, conversation_id: i64) -> QueryResult<()> {
    let messages = [ThreadType::Customer.as_i16(), ThreadType::Message.as_i16()];
    let count: i64 = threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::thread_type.ne(ThreadType::LineItem.as_i16()))
        .count()
        .get_result(c)?;
    let with_files: i64 = threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::has_attachments.eq(true))
        .count()
        .get_result(c)?;
    let latest: Option<(NaiveDateTime, i16, String)> = threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::thread_type.eq_any(messages))
        .filter(threads::state.ne(ConversationState::Draft.as_i16()))
        .order((threads::created_at.desc(), threads::id.desc()))
        .select((
            threads::created_at,
            threads::thread_type,
            threads::body_text,
        ))
        .first(c)
        .optional()?;
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    let target = conversations::table.find(conversation_id);
    diesel::update(target)
        .set((
            conversations::threads_count.eq(count),
            conversations::has_attachments.eq(with_files > 0),
        ))
        .execute(c)?;
    if let Some((at, kind, text)) = latest {
        let from = if kind == ThreadType::Customer.as_i16() {
            1
        } else {
            2
        };
        diesel::update(target)
            .set((
                conversations::last_reply_at.eq(at),
                conversations::last_reply_from.eq(from),
                conversations::preview.eq(crate::models::thread::preview_of(&text)),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Adds (`on`) or removes the `(user, conversation)` row of a per-user mark table (stars,
/// followers). Outside a transaction, so a unique-key clash can be taken as "already there".
macro_rules! set_mark {
    ($conn:expr, $table:ident, $conversation_id:expr, $user_id:expr, $on:expr) => {{
        let conn: &mut AnyConnection = $conn;
        current(conn, $conversation_id)?;
        let pair = $table::table
            .filter($table::user_id.eq($user_id))
            .filter($table::conversation_id.eq($conversation_id));
        if !$on {
            diesel::delete(pair).execute(conn)?;
        } else if pair.count().get_result::<i64>(conn)? == 0 {
            ignore_duplicate(
                diesel::insert_into($table::table)
                    .values((
                        $table::user_id.eq($user_id),
                        $table::conversation_id.eq($conversation_id),
                        $table::created_at.eq(db::now()),
                    ))
                    .execute(conn),
            )?;
        }
        Ok(())
    }};
}

/// Stars (`on`) or unstars the conversation for `user_id`. Idempotent; personal, so no line
/// item or event.
pub fn set_star(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user_id: i64,
    on: bool,
) -> Result<(), ActionError> {
    set_mark!(conn, stars, conversation_id, user_id, on)
}

/// Follows (`on`) or unfollows the conversation for `user_id` (followers are notified of
/// its changes). Idempotent; no line item or event.
pub fn set_follow(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user_id: i64,
    on: bool,
) -> Result<(), ActionError> {
    set_mark!(conn, followers, conversation_id, user_id, on)
}

/// A unique-key clash means another request made the same row first: the wanted state.
/// (Used outside transactions only: PostgreSQL aborts a transaction on any error.)
fn ignore_duplicate(result: QueryResult<usize>) -> QueryResult<()> {
    match result {
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Moves the conversation to Deleted (soft: [`restore`] brings it back).
pub fn delete(
    conn: &mut AnyConnection,
    conversation_id: i64,
    by_user: i64,
) -> Result<bool, ActionError> {
    set_state(
        conn,
        conversation_id,
        by_user,
        ConversationState::Deleted,
        LineItemAction::Deleted,
        EventKind::Deleted,
    )
}

/// Brings a conversation back from Deleted (as published).
pub fn restore(
    conn: &mut AnyConnection,
    conversation_id: i64,
    by_user: i64,
) -> Result<bool, ActionError> {
    set_state(
        conn,
        conversation_id,
        by_user,
        ConversationState::Published,
        LineItemAction::Restored,
        EventKind::Restored,
    )
}

fn set_state(
    conn: &mut AnyConnection,
    conversation_id: i64,
    by_user: i64,
    state: ConversationState,
    action: LineItemAction,
    kind: EventKind,
) -> Result<bool, ActionError> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let conv = current(c, conversation_id)?;
        // Restore only undoes a delete; a draft stays a draft.
        let applies = match state {
            ConversationState::Published => conv.state == ConversationState::Deleted.as_i16(),
            _ => conv.state != state.as_i16(),
        };
        if !applies {
            return Ok(false);
        }
        diesel::update(conversations::table.find(conversation_id))
            .set((
                conversations::state.eq(state.as_i16()),
                conversations::updated_at.eq(db::now()),
            ))
            .execute(c)?;
        let thread_id = line_item(
            c,
            conversation_id,
            conv.status,
            action,
            by_user,
            serde_json::json!({}),
        )?;
        record(c, kind, &conv, thread_id, by_user, serde_json::json!({}))?;
        Ok(true)
    })
}

/// Marks the conversation read for `user_id` as of now (or of its latest message, when
/// that is stamped later than our clock), so lists stop showing it in bold.
pub fn mark_read(conn: &mut AnyConnection, conversation_id: i64, user_id: i64) -> QueryResult<()> {
    let Some(last) = conversations::table
        .find(conversation_id)
        .select(conversations::last_reply_at)
        .first::<NaiveDateTime>(conn)
        .optional()?
    else {
        return Ok(());
    };
    let at = db::now().max(last);
    let pair = conversation_reads::table
        .filter(conversation_reads::user_id.eq(user_id))
        .filter(conversation_reads::conversation_id.eq(conversation_id));
    // Read already since the latest message: nothing to write (a page view then takes no
    // write lock, which on SQLite would queue every concurrent view behind one writer).
    let read_at: Option<NaiveDateTime> = pair
        .select(conversation_reads::read_at)
        .first(conn)
        .optional()?;
    if read_at.is_some_and(|r| r >= last) {
        return Ok(());
    }
    let updated = diesel::update(pair)
        .set(conversation_reads::read_at.eq(at))
        .execute(conn)?;
    if updated > 0 {
        return Ok(());
    }
    let inserted = diesel::insert_into(conversation_reads::table)
        .values((
            conversation_reads::user_id.eq(user_id),
            conversation_reads::conversation_id.eq(conversation_id),
            conversation_reads::read_at.eq(at),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        // Another request inserted it first: set our time.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => diesel::update(pair)
            .set(conversation_reads::read_at.eq(at))
            .execute(conn)
            .map(|_| ()),
        Err(e) => Err(e),
    }
}
