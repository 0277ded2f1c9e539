//! The outbox worker: claims due rows with a lease, builds each message once (stored, so a
//! retry resends the same bytes), sends it, and records the answer per recipient.
//! Temporary failures retry with exponential back-off for three days; permanent ones stop
//! and are shown on the thread, and the agent is told through a `send_failed` event.

use std::time::Duration;

use crate::crypto::Secrets;
use crate::db::types::OutboxStatus;
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::mail::outbound::compose::{Composed, compose};
use crate::mail::outbound::transport::{SendError, Transports};
use crate::models::event::{self, EventKind, NewEvent};
use crate::models::outbox::{self, OutboxRow};
use crate::models::{mailbox, send_log};
use crate::storage::FileStore;

/// How long temporary failures are retried.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);
/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF_SECS: i64 = 60;
/// The longest wait between retries.
pub const MAX_BACKOFF_SECS: i64 = 3600;

/// Everything a sender needs.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The database.
    pub pool: DbPool,
    /// Decrypts SMTP passwords.
    pub secrets: Secrets,
    /// Attachment files.
    pub files: FileStore,
    /// This worker's lease name.
    pub worker: String,
    /// Modules, whose `reply_before_enqueue` filters see each reply once, before it is built.
    pub hooks: Option<std::sync::Arc<crate::hooks::Registry>>,
}

/// The wait before retry number `attempts + 1`.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(0);
    chrono::Duration::seconds(
        (FIRST_BACKOFF_SECS.saturating_mul(1_i64 << exp)).min(MAX_BACKOFF_SECS),
    )
}

impl Sender {
    /// Sends up to `limit` due rows; returns how many were handled.
    pub fn process_due(&self, transports: &mut Transports, limit: i64) -> Result<usize, DbError> {
        let mut conn = self.pool.get().map_err(DbError::Pool)?;
        let rows = outbox::claim_due(&mut conn, &self.worker, limit)?;
        for row in &rows {
            crate::fault::crash_point("after_claim");
            if let Err(e) = self.handle(&mut conn, transports, row) {
                tracing::error!(outbox.id = row.id, error = %e, "outbox row left for a later attempt");
            }
        }
        Ok(rows.len())
    }

    fn handle(
        &self,
        conn: &mut AnyConnection,
        transports: &mut Transports,
        row: &OutboxRow,
    ) -> Result<(), DbError> {
        let composed = match row
            .mime
            .clone()
            .and_then(|m| Composed::from_stored(m, &row.envelope))
        {
            Some(c) => c,
            None => match self.filter_then_compose(conn, row) {
                Ok(c) => {
                    outbox::store_mime(conn, row.id, &c.mime, &c.envelope_json())?;
                    c
                }
                Err(e) => return self.fail(conn, row, &[], &e.to_string()),
            },
        };
        let Some(mb) = mailbox::outbound_settings(conn, row.mailbox_id)? else {
            return self.fail(conn, row, &composed.to, "the mailbox no longer exists");
        };
        match transports.send(&mb, &self.secrets, &composed) {
            Ok(answer) => crate::db::dialect::write_transaction(&mut *conn, |c| {
                outbox::finish(c, row.id, OutboxStatus::Sent, "")?;
                send_log::record(
                    c,
                    row.id,
                    row.thread_id,
                    row.mailbox_id,
                    &composed.to,
                    OutboxStatus::Sent,
                    &answer,
                )?;
                event::record(
                    c,
                    EventKind::MailSent,
                    self.event(row, serde_json::json!({"answer": answer})),
                )
            })?,
            Err(SendError {
                permanent: true,
                message,
            }) => return self.fail(conn, row, &composed.to, &message),
            Err(SendError {
                permanent: false,
                message,
            }) => {
                let now = db::now();
                if now - row.created_at > GIVE_UP_AFTER {
                    return self.fail(
                        conn,
                        row,
                        &composed.to,
                        &format!("gave up after 3 days: {message}"),
                    );
                }
                let next = now + backoff(row.attempts);
                tracing::warn!(outbox.id = row.id, error = %message, next = %next, "send failed; will retry");
                crate::db::dialect::write_transaction(&mut *conn, |c| {
                    outbox::retry_at(c, row.id, next, &message)?;
                    send_log::record(
                        c,
                        row.id,
                        row.thread_id,
                        row.mailbox_id,
                        &composed.to,
                        OutboxStatus::Retrying,
                        &message,
                    )
                })?;
            }
        }
        Ok(())
    }

    fn filter_then_compose(
        &self,
        conn: &mut AnyConnection,
        row: &OutboxRow,
    ) -> Result<Composed, crate::mail::outbound::compose::ComposeError> {
        if let Some(hooks) = &self.hooks
            && row.kind == crate::db::types::OutboxKind::Reply.as_i16()
        {
            crate::conversations::reply::apply_reply_filters(conn, hooks, row.thread_id)?;
        }
        compose(conn, &self.files, row)
    }

    fn fail(
        &self,
        conn: &mut AnyConnection,
        row: &OutboxRow,
        to: &[String],
        message: &str,
    ) -> Result<(), DbError> {
        tracing::error!(outbox.id = row.id, thread.id = row.thread_id, error = %message, "send failed for good");
        crate::db::dialect::write_transaction(&mut *conn, |c| {
            outbox::finish(c, row.id, OutboxStatus::Failed, message)?;
            send_log::record(
                c,
                row.id,
                row.thread_id,
                row.mailbox_id,
                to,
                OutboxStatus::Failed,
                message,
            )?;
            event::record(
                c,
                EventKind::SendFailed,
                self.event(row, serde_json::json!({"reason": message})),
            )
        })?;
        Ok(())
    }

    fn event(&self, row: &OutboxRow, payload: serde_json::Value) -> NewEvent {
        NewEvent {
            mailbox_id: Some(row.mailbox_id),
            conversation_id: Some(row.conversation_id),
            thread_id: Some(row.thread_id),
            user_id: None,
            payload,
        }
    }
}

/// Starts `count` sending threads.
pub fn spawn(sender: Sender, count: u32) -> std::io::Result<()> {
    for n in 0..count {
        let sender = sender.clone();
        std::thread::Builder::new()
            .name(format!("outbox-{n}"))
            .spawn(move || {
                let mut transports = Transports::default();
                loop {
                    match sender.process_due(&mut transports, 10) {
                        Ok(0) => {
                            transports.close_idle();
                            std::thread::sleep(Duration::from_millis(500));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::error!(error = %e, "outbox worker: database unavailable");
                            std::thread::sleep(Duration::from_secs(5));
                        }
                    }
                }
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0).num_seconds(), 60);
        assert_eq!(backoff(1).num_seconds(), 120);
        assert_eq!(backoff(5).num_seconds(), 1920);
        assert_eq!(backoff(6).num_seconds(), 3600);
        assert_eq!(backoff(100).num_seconds(), 3600);
    }
}
