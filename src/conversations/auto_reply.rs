//! The auto-reply to a new conversation: sent only to people (never to auto-replies,
//! bounces, list mail or our own addresses), and at most once an hour per address.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::reply::{ReplyError, SendContext, reply_headers, save_outgoing};
use super::variables::Variables;
use crate::crypto::Secrets;
use crate::db::AnyConnection;
use crate::db::schema::{conversations, customers, outbox};
use crate::db::types::{OutboxKind, ThreadType};
use crate::mail::inbound::classify::Classification;
use crate::models::{mailbox, thread};

/// At most one auto-reply per address in this window.
pub const RATE_LIMIT_MINUTES: i64 = 60;

/// Enqueues the mailbox's auto-reply for a conversation just created from mail, when the
/// mailbox has one and the mail deserves one. Call in the transaction that stored the mail.
/// Returns the auto-reply's thread id.
pub fn maybe_send(
    conn: &mut AnyConnection,
    secrets: &Secrets,
    files: &crate::storage::FileStore,
    conversation_id: i64,
    class: Classification,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    if class.suppresses_auto_reply() {
        return Ok(None);
    }
    let (mailbox_id, number, email, customer_id, subject): (i64, i64, String, Option<i64>, String) =
        conversations::table
            .find(conversation_id)
            .select((
                conversations::mailbox_id,
                conversations::number,
                conversations::customer_email,
                conversations::customer_id,
                conversations::subject,
            ))
            .first(conn)?;
    let Some(mb) = mailbox::outbound_settings(conn, mailbox_id)? else {
        return Ok(None);
    };
    if !mb.auto_reply_enabled || !email.contains('@') || mb.auto_reply_body.trim().is_empty() {
        return Ok(None);
    }
    let since = now - chrono::Duration::minutes(RATE_LIMIT_MINUTES);
    let recent: i64 = outbox::table
        .inner_join(conversations::table)
        .filter(outbox::kind.eq(OutboxKind::AutoReply.as_i16()))
        .filter(conversations::customer_email.eq(&email))
        .filter(outbox::created_at.gt(since))
        .count()
        .get_result(conn)?;
    if recent > 0 {
        return Ok(None);
    }
    let customer_name = match customer_id {
        Some(id) => customers::table
            .find(id)
            .select((customers::first_name, customers::last_name))
            .first::<(String, String)>(conn)
            .optional()?
            .map(|(f, l)| format!("{f} {l}").trim().to_string())
            .unwrap_or_default(),
        None => String::new(),
    };
    let vars = Variables {
        mailbox_name: mb.name.clone(),
        mailbox_email: mb.email.clone(),
        customer_name,
        conversation_number: number,
        ..Variables::default()
    };
    let html = crate::sanitize::clean_email_html(&vars.fill_html(&mb.auto_reply_body));
    let text = mail_parser::decoders::html::html_to_text(&html);
    let subject = if mb.auto_reply_subject.trim().is_empty() {
        subject
    } else {
        vars.fill_text(&mb.auto_reply_subject)
    };
    let (in_reply_to, references) = reply_headers(conn, conversation_id)?;
    let to = serde_json::Value::from(vec![email]).to_string();
    let refs = serde_json::Value::from(references).to_string();
    let status: i16 = conversations::table
        .find(conversation_id)
        .select(conversations::status)
        .first(conn)?;
    let thread_id = thread::add(
        conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::Message.as_i16(),
            status,
            body_html: &html,
            body_text: &text,
            subject: &subject,
            from_email: &mb.email,
            from_name: &mb.name,
            to_list: &to,
            in_reply_to: &in_reply_to,
            references_list: &refs,
            created_at: now,
            updated_at: now,
            ..Default::default()
        },
    )?;
    let queue = SendContext {
        secrets,
        files,
        undo_seconds: 0,
        hooks: None,
    };
    // Without files, only the database can fail here.
    save_outgoing(
        conn,
        &queue,
        OutboxKind::AutoReply,
        mailbox_id,
        &mb.email,
        thread_id,
        &[],
    )
    .map_err(|e| match e {
        ReplyError::Database(d) => d,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })?;
    Ok(Some(thread_id))
}
