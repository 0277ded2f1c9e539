//! The rules of conversations: replying, notes, undo, auto-replies. Each operation writes
//! the thread, the outbox row, the message-id index and the event in one transaction.

pub mod actions;
pub mod assign;
pub mod auto_reply;
pub mod folders;
pub mod outgoing;
pub mod reply;
pub mod variables;
