//! Assigning a conversation to an agent (or to nobody): the change and its `assigned`
//! event in one transaction, so the new assignee is notified at least once.

use diesel::prelude::*;

use crate::db::schema::conversations;
use crate::db::{AnyConnection, now};
use crate::models::event::{self, EventKind, NewEvent};

/// Sets the assignee of `conversation_id` to `assignee` (None: unassigned), as `by_user`.
/// Returns false when the conversation does not exist; no event when nothing changes.
pub fn assign(
    conn: &mut AnyConnection,
    conversation_id: i64,
    assignee: Option<i64>,
    by_user: Option<i64>,
) -> QueryResult<bool> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        let found: Option<(i64, Option<i64>)> = conversations::table
            .find(conversation_id)
            .select((conversations::mailbox_id, conversations::user_id))
            .first(c)
            .optional()?;
        let Some((mailbox_id, previous)) = found else {
            return Ok(false);
        };
        if previous == assignee {
            return Ok(true);
        }
        diesel::update(conversations::table.find(conversation_id))
            .set((
                conversations::user_id.eq(assignee),
                conversations::updated_at.eq(now()),
            ))
            .execute(c)?;
        event::record(
            c,
            EventKind::Assigned,
            NewEvent {
                mailbox_id: Some(mailbox_id),
                conversation_id: Some(conversation_id),
                thread_id: None,
                user_id: by_user,
                payload: serde_json::json!({"assignee": assignee, "previous": previous}),
            },
        )?;
        Ok(true)
    })
}
