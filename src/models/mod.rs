//! Data access, one file per aggregate. Functions take `&mut AnyConnection` so callers can
//! group them into one transaction.

pub mod conversation;
pub mod customer;
pub mod mailbox;
pub mod message_id;
pub mod thread;
pub mod user;
