//! Data access, one file per aggregate. Functions take `&mut AnyConnection` so callers can
//! group them into one transaction.

pub mod activity;
pub mod attachment;
pub mod conversation;
pub mod customer;
pub mod draft;
pub mod event;
pub mod fetch_state;
pub mod ingest_failure;
pub mod mailbox;
pub mod mailbox_user;
pub mod message_id;
pub mod notification;
pub mod outbox;
pub mod preference;
pub mod send_log;
pub mod session;
pub mod system_settings;
pub mod thread;
pub mod upload;
pub mod user;
pub mod user_token;
