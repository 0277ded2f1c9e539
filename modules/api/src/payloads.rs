//! The typed payloads of the action and filter hooks, shared by the host and modules (so there is
//! one copy of each shape). Modules may read a filter's `value` into these with
//! `serde_json::from_value` and answer with `serde_json::to_value`; see
//! `modules/README.md` for every hook.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `message_before_threading`: an incoming message, after parsing and before it is
/// threaded or stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncomingMessage {
    /// The mailbox that fetched it.
    pub mailbox_id: i64,
    /// The IMAP folder ("" when not fetched over IMAP).
    pub folder: String,
    /// Its Message-ID (without angle brackets), if it has one.
    pub message_id: Option<String>,
    /// The sender's address ("" when missing).
    pub from: String,
    /// The sender's display name.
    pub from_name: String,
    /// To addresses.
    pub to: Vec<String>,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body as received (not yet sanitized), if any.
    pub html: Option<String>,
}

/// What the modules decided about an incoming message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InboundVerdict {
    /// Take it in as usual.
    Keep,
    /// Do not store it (the fetch checkpoint still moves past it).
    Drop {
        /// Why, for the log.
        #[serde(default)]
        reason: String,
    },
    /// Store it with the conversation marked as spam.
    Spam {
        /// Why, for the log.
        #[serde(default)]
        reason: String,
    },
    /// Store it in another mailbox.
    Move {
        /// The mailbox it belongs to.
        mailbox_id: i64,
    },
}

/// `reply_before_enqueue`: an agent's reply just before it becomes an outbox row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutgoingReply {
    /// The conversation.
    pub conversation_id: i64,
    /// The mailbox it is sent from.
    pub mailbox_id: i64,
    /// The reply's thread.
    pub thread_id: i64,
    /// The agent who wrote it.
    pub user_id: Option<i64>,
    /// Recipients.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// Extra headers; modules may add `X-…` headers only.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// `conversation_before_status_change`: a status change about to happen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The conversation.
    pub conversation_id: i64,
    /// Its mailbox.
    pub mailbox_id: i64,
    /// The status now (FreeScout numbers: active 1, pending 2, closed 3, spam 4).
    pub from: i16,
    /// The status asked for.
    pub to: i16,
    /// Who asks (none for rules and mail).
    pub user_id: Option<i64>,
}

/// The answer to `conversation_before_status_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusVerdict {
    /// False vetoes the change.
    pub allow: bool,
    /// Why, for the agent.
    #[serde(default)]
    pub reason: String,
}

/// The payload of every action hook (`<entity>_after_<action>`): one `events` row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    /// The event's id; the same event may be delivered twice, never with another id.
    pub event_id: i64,
    /// The hook it is delivered as.
    pub hook: String,
    /// The stored event kind (`conversation_created`, …).
    pub kind: String,
    /// The mailbox concerned.
    pub mailbox_id: Option<i64>,
    /// The conversation concerned.
    pub conversation_id: Option<i64>,
    /// The thread concerned.
    pub thread_id: Option<i64>,
    /// The user who acted.
    pub user_id: Option<i64>,
    /// When it happened (RFC 3339, UTC).
    pub created_at: String,
    /// The kind's own details (see `modules/README.md`).
    pub data: serde_json::Value,
}
