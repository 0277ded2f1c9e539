//! Outbound mail: compose (MIME and headers) and transport (SMTP or sendmail). What to
//! send is decided by `conversations`; when, by the outbox worker in `jobs`.

pub mod compose;
pub mod transport;
