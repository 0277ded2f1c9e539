//! Events: what happened, written in the same transaction as the change itself, so
//! nothing is announced that did not commit and nothing committed is forgotten.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::events;

/// Kinds of events; the names match the module hook names' entity and action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new conversation was started (by mail or by an agent).
    ConversationCreated,
    /// A customer wrote into an existing conversation.
    CustomerReplied,
    /// A new customer record was made.
    CustomerCreated,
    /// A message was fetched and stored.
    MailFetched,
    /// An outgoing message failed for good (also: it bounced).
    SendFailed,
    /// A conversation's status changed.
    StatusChanged,
    /// An agent replied.
    AgentReplied,
    /// An agent added a note.
    NoteAdded,
    /// An outgoing message was accepted by the server.
    MailSent,
    /// A conversation's assignee changed (payload: `assignee`, `previous`).
    Assigned,
    /// A customer record was changed (payload: `customer_id`).
    CustomerUpdated,
    /// A conversation moved to another mailbox (payload: `from_mailbox_id`, `to_mailbox_id`).
    Moved,
    /// Another conversation was merged into this one (payload: `source_id`, `source_number`).
    Merged,
    /// A conversation went to Deleted.
    Deleted,
    /// A conversation came back from Deleted.
    Restored,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConversationCreated => "conversation_created",
            EventKind::CustomerReplied => "customer_replied",
            EventKind::CustomerCreated => "customer_created",
            EventKind::MailFetched => "mail_fetched",
            EventKind::SendFailed => "send_failed",
            EventKind::StatusChanged => "status_changed",
            EventKind::AgentReplied => "agent_replied",
            EventKind::NoteAdded => "note_added",
            EventKind::MailSent => "mail_sent",
            EventKind::Assigned => "assigned",
            EventKind::CustomerUpdated => "customer_updated",
            EventKind::Moved => "moved",
            EventKind::Merged => "merged",
            EventKind::Deleted => "deleted",
            EventKind::Restored => "restored",
        }
    }
}

/// One event to record.
#[derive(Debug, Default)]
pub struct NewEvent {
    /// The mailbox concerned.
    pub mailbox_id: Option<i64>,
    /// The conversation concerned.
    pub conversation_id: Option<i64>,
    /// The thread concerned.
    pub thread_id: Option<i64>,
    /// The user who acted, if any.
    pub user_id: Option<i64>,
    /// Details.
    pub payload: serde_json::Value,
}

/// Records an event on the caller's connection (inside the caller's transaction).
pub fn record(conn: &mut AnyConnection, kind: EventKind, event: NewEvent) -> QueryResult<()> {
    let payload = if event.payload.is_null() {
        "{}".to_string()
    } else {
        event.payload.to_string()
    };
    diesel::insert_into(events::table)
        .values((
            events::kind.eq(kind.as_str()),
            events::mailbox_id.eq(event.mailbox_id),
            events::conversation_id.eq(event.conversation_id),
            events::thread_id.eq(event.thread_id),
            events::user_id.eq(event.user_id),
            events::payload.eq(payload),
            events::created_at.eq(crate::db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}
