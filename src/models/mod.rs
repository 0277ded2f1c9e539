//! Data access, one file per aggregate. Functions take `&mut AnyConnection` so callers can
//! group them into one transaction.

pub mod attachment;
pub mod conversation;
pub mod customer;
pub mod event;
pub mod fetch_state;
pub mod ingest_failure;
pub mod mailbox;
pub mod message_id;
pub mod outbox;
pub mod send_log;
pub mod thread;
pub mod user;
