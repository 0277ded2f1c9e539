//! Mail in and out.

pub mod inbound;
pub mod message_id;
pub mod outbound;
