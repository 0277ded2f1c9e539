//! An agent's reply (and notes): saved as a thread at once and enqueued in the outbox in
//! the same transaction, due after the undo delay.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::variables::Variables;
use crate::crypto::Secrets;
use crate::db::schema::{conversations, customers, threads, users};
use crate::db::types::{
    AssignAfterReply, ConversationState, ConversationStatus, OutboxKind, ThreadType,
};
use crate::db::{self, AnyConnection};
use crate::mail::message_id;
use crate::models::event::{self, EventKind, NewEvent};
use crate::models::{attachment, mailbox, message_id as index, outbox, thread};
use crate::storage::FileStore;

/// A file the agent attached.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Display name (sanitized on the way in).
    pub file_name: String,
    /// `type/subtype`.
    pub mime_type: String,
    /// Bytes.
    pub data: Vec<u8>,
    /// Content-ID when the body shows it in place (`<img src="cid:…">`); "" for a file.
    pub content_id: String,
}

/// What an agent sends.
#[derive(Debug, Clone, Default)]
pub struct ReplyInput {
    /// The conversation.
    pub conversation_id: i64,
    /// The agent.
    pub user_id: i64,
    /// The body as the editor produced it (sanitized here).
    pub body_html: String,
    /// Extra Cc addresses.
    pub cc: Vec<String>,
    /// Bcc addresses.
    pub bcc: Vec<String>,
    /// Status after sending; the mailbox default when None.
    pub status_after: Option<ConversationStatus>,
    /// Attached files.
    pub files: Vec<NewFile>,
}

/// What replying needs besides the input.
#[derive(Debug, Clone, Copy)]
pub struct SendContext<'a> {
    /// Signs our Message-IDs.
    pub secrets: &'a Secrets,
    /// Stores attachments.
    pub files: &'a FileStore,
    /// Seconds before the outbox row is due.
    pub undo_seconds: u32,
    /// Modules asked before the reply changes the conversation's status
    /// (`conversation_before_status_change`); None when no modules are loaded.
    pub hooks: Option<&'a crate::hooks::Registry>,
}

/// Why a reply could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// No such conversation (or mailbox).
    #[error("the conversation does not exist")]
    NotFound,
    /// Nothing to send.
    #[error("the reply is empty")]
    Empty,
    /// An address is not an email address.
    #[error("{0:?} is not an email address")]
    BadAddress(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// An attachment could not be stored.
    #[error("attachment: {0}")]
    File(#[from] std::io::Error),
}

/// A saved reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    /// The new thread.
    pub thread_id: i64,
    /// Its outbox row.
    pub outbox_id: i64,
    /// When it will be sent (the end of the undo window).
    pub due_at: NaiveDateTime,
}

#[derive(Queryable)]
struct ConvInfo {
    number: i64,
    mailbox_id: i64,
    customer_id: Option<i64>,
    customer_email: String,
    user_id: Option<i64>,
    subject: String,
}

pub(super) fn clean_addresses(list: &[String]) -> Result<Vec<String>, ReplyError> {
    let mut out = Vec::new();
    for a in list
        .iter()
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
    {
        if a.parse::<lettre::Address>().is_err() {
            return Err(ReplyError::BadAddress(a));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// Saves an agent's reply and enqueues it.
pub fn reply(
    conn: &mut AnyConnection,
    ctx: &SendContext<'_>,
    input: &ReplyInput,
) -> Result<Saved, ReplyError> {
    let cc = clean_addresses(&input.cc)?;
    let bcc = clean_addresses(&input.bcc)?;
    let body = crate::sanitize::clean_email_html(&input.body_html);
    if mail_parser::decoders::html::html_to_text(&body)
        .trim()
        .is_empty()
        && input.files.is_empty()
    {
        return Err(ReplyError::Empty);
    }
    // Asked outside the transaction: a module may use its storage while it decides.
    let vetoed_keep = match ctx.hooks {
        Some(hooks) => status_veto(conn, hooks, input)?,
        None => None,
    };
    conn.transaction(|c| {
        let conv: ConvInfo = conversations::table
            .find(input.conversation_id)
            .select((
                conversations::number,
                conversations::mailbox_id,
                conversations::customer_id,
                conversations::customer_email,
                conversations::user_id,
                conversations::subject,
            ))
            .first(c)
            .optional()?
            .ok_or(ReplyError::NotFound)?;
        let mb = mailbox::outbound_settings(c, conv.mailbox_id)?.ok_or(ReplyError::NotFound)?;
        let vars = variables_for(c, &conv, &mb, input.user_id)?;
        let signature = if mb.signature.trim().is_empty() {
            String::new()
        } else {
            format!("<div>{}</div>", crate::sanitize::clean_email_html(&vars.fill_html(&mb.signature)))
        };
        let html = format!("{body}{signature}");
        let text = mail_parser::decoders::html::html_to_text(&html);
        let (in_reply_to, references) = reply_headers(c, input.conversation_id)?;
        let now = db::now();
        let status = vetoed_keep.unwrap_or_else(|| status_after(input, &mb));
        let to_json = serde_json::Value::from(vec![conv.customer_email.clone()]).to_string();
        let cc_json = serde_json::Value::from(cc.clone()).to_string();
        let bcc_json = serde_json::Value::from(bcc.clone()).to_string();
        let refs_json = serde_json::Value::from(references).to_string();
        let thread_id = thread::add(
            c,
            &thread::NewThread {
                conversation_id: input.conversation_id,
                thread_type: ThreadType::Message.as_i16(),
                status: status.as_i16(),
                body_html: &html,
                body_text: &text,
                subject: &conv.subject,
                from_email: &mb.email,
                from_name: &vars.agent_name,
                to_list: &to_json,
                cc_list: &cc_json,
                bcc_list: &bcc_json,
                in_reply_to: &in_reply_to,
                references_list: &refs_json,
                created_by_user_id: Some(input.user_id),
                has_attachments: !input.files.is_empty(),
                created_at: now,
                updated_at: now,
                ..Default::default()
            },
        )?;
        let queued = save_outgoing(c, ctx, OutboxKind::Reply, conv.mailbox_id, &mb.email, thread_id, &input.files)?;
        let (outbox_id, due_at) = (queued.outbox_id, queued.due_at);
        let assign = conv.user_id.is_none() && AssignAfterReply::from_i16(mb.assign_after_reply) != Some(AssignAfterReply::Keep);
        let closed_at = (status == ConversationStatus::Closed).then_some(now);
        diesel::update(conversations::table.find(input.conversation_id))
            .set((
                conversations::status.eq(status.as_i16()),
                conversations::state.eq(ConversationState::Published.as_i16()),
                conversations::closed_at.eq(closed_at),
                conversations::closed_by_user_id.eq(closed_at.map(|_| input.user_id)),
            ))
            .execute(c)?;
        if assign {
            diesel::update(conversations::table.find(input.conversation_id))
                .set(conversations::user_id.eq(Some(input.user_id)))
                .execute(c)?;
        }
        event::record(
            c,
            EventKind::AgentReplied,
            NewEvent {
                mailbox_id: Some(conv.mailbox_id),
                conversation_id: Some(input.conversation_id),
                thread_id: Some(thread_id),
                user_id: Some(input.user_id),
                payload: serde_json::json!({"status": status.as_i16(), "due_at": due_at.to_string()}),
            },
        )?;
        Ok(Saved { thread_id, outbox_id, due_at })
    })
}

/// Runs modules' `reply_before_enqueue` filters on a reply about to be built for sending:
/// a changed body (sanitized again) and added `X-` headers are stored on the thread, which
/// is what goes out. Called by the outbox worker outside any transaction, because modules
/// may use their storage (on SQLite a write inside the reply's transaction would wait
/// for that very transaction).
pub fn apply_reply_filters(
    c: &mut AnyConnection,
    hooks: &crate::hooks::Registry,
    thread_id: i64,
) -> QueryResult<()> {
    let found: Option<(i64, String, String, Option<i64>, String, String)> = threads::table
        .find(thread_id)
        .select((
            threads::conversation_id,
            threads::body_html,
            threads::subject,
            threads::created_by_user_id,
            threads::to_list,
            threads::cc_list,
        ))
        .first(c)
        .optional()?;
    let Some((conversation_id, html, subject, user_id, to, cc)) = found else {
        return Ok(());
    };
    let mailbox_id: i64 = conversations::table
        .find(conversation_id)
        .select(conversations::mailbox_id)
        .first(c)?;
    let out = hooks.reply_before_enqueue(postdesk_module_api::payloads::OutgoingReply {
        conversation_id,
        mailbox_id,
        thread_id,
        user_id,
        to: serde_json::from_str(&to).unwrap_or_default(),
        cc: serde_json::from_str(&cc).unwrap_or_default(),
        subject,
        html: html.clone(),
        headers: Default::default(),
    });
    if out.html == html && out.headers.is_empty() {
        return Ok(());
    }
    let html = crate::sanitize::clean_email_html(&out.html);
    let text = mail_parser::decoders::html::html_to_text(&html);
    let headers = serde_json::to_string(&out.headers).unwrap_or_default();
    diesel::update(threads::table.find(thread_id))
        .set((
            threads::body_html.eq(html),
            threads::body_text.eq(text),
            threads::headers.eq(headers),
        ))
        .execute(c)
        .map(|_| ())
}

/// One of our messages, queued.
pub(super) struct Queued {
    /// Its outbox row.
    pub outbox_id: i64,
    /// When that row is due.
    pub due_at: NaiveDateTime,
}

/// Finishes one of our messages once its thread is written: a signed Message-ID (also in
/// the message-id index, so the answer threads back), its files, and its outbox row due
/// after the undo delay. Every kind of outgoing mail goes through here.
pub(super) fn save_outgoing(
    c: &mut AnyConnection,
    ctx: &SendContext<'_>,
    kind: OutboxKind,
    mailbox_id: i64,
    mailbox_email: &str,
    thread_id: i64,
    files: &[NewFile],
) -> Result<Queued, ReplyError> {
    let (conversation_id, now): (i64, NaiveDateTime) = threads::table
        .find(thread_id)
        .select((threads::conversation_id, threads::created_at))
        .first(c)?;
    let domain = mailbox_email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("postdesk.invalid");
    let mid = message_id::generate(ctx.secrets, thread_id, domain);
    diesel::update(threads::table.find(thread_id))
        .set(threads::message_id.eq(&mid))
        .execute(c)?;
    index::record(
        c,
        &index::NewMessageId {
            mailbox_id,
            message_id: &mid,
            thread_id,
            conversation_id,
            created_at: now,
        },
    )?;
    for f in files {
        let sha = ctx.files.put_attachment(&f.data)?;
        let name = crate::mail::inbound::parse::sanitize_file_name(&f.file_name, "attachment");
        attachment::create(
            c,
            &attachment::NewAttachment {
                thread_id,
                conversation_id,
                file_name: &name,
                mime_type: &f.mime_type,
                size_bytes: f.data.len() as i64,
                sha256: &sha,
                content_id: &f.content_id,
                is_inline: !f.content_id.is_empty(),
                created_at: now,
            },
        )?;
    }
    let due_at = now + chrono::Duration::seconds(i64::from(ctx.undo_seconds));
    let outbox_id = outbox::enqueue(
        c,
        thread_id,
        conversation_id,
        mailbox_id,
        kind,
        &mid,
        due_at,
    )?;
    Ok(Queued { outbox_id, due_at })
}

/// The status a reply leaves its conversation in: the agent's choice, else the mailbox's.
fn status_after(input: &ReplyInput, mb: &mailbox::OutboundSettings) -> ConversationStatus {
    input
        .status_after
        .or_else(|| ConversationStatus::from_i16(mb.status_after_reply))
        .unwrap_or(ConversationStatus::Pending)
}

/// Asks modules whether the reply's status change may happen; on a veto, the status to
/// keep (the current one).
fn status_veto(
    conn: &mut AnyConnection,
    hooks: &crate::hooks::Registry,
    input: &ReplyInput,
) -> Result<Option<ConversationStatus>, ReplyError> {
    let (mailbox_id, current): (i64, i16) = conversations::table
        .find(input.conversation_id)
        .select((conversations::mailbox_id, conversations::status))
        .first(conn)
        .optional()?
        .ok_or(ReplyError::NotFound)?;
    let mb = mailbox::outbound_settings(conn, mailbox_id)?.ok_or(ReplyError::NotFound)?;
    let target = status_after(input, &mb);
    if target.as_i16() == current {
        return Ok(None);
    }
    let change = postdesk_module_api::payloads::StatusChange {
        conversation_id: input.conversation_id,
        mailbox_id,
        from: current,
        to: target.as_i16(),
        user_id: Some(input.user_id),
    };
    match hooks.conversation_before_status_change(&change) {
        Ok(()) => Ok(None),
        Err(veto) => {
            tracing::info!(conversation.id = input.conversation_id, module = %veto.module, reason = %veto.reason, "status change after reply vetoed by a module");
            Ok(ConversationStatus::from_i16(current))
        }
    }
}

/// "Undo" within the delay: nothing is sent and the reply becomes an editable draft.
/// Returns false when it is too late (sending started or the delay passed).
pub fn undo(conn: &mut AnyConnection, thread_id: i64) -> QueryResult<bool> {
    conn.transaction(|c| {
        if !outbox::cancel_if_waiting(c, thread_id)? {
            return Ok(false);
        }
        diesel::update(threads::table.find(thread_id))
            .set(threads::state.eq(ConversationState::Draft.as_i16()))
            .execute(c)?;
        Ok(true)
    })
}

/// Adds an internal note: stored and announced, never emailed.
pub fn note(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user_id: i64,
    body_html: &str,
) -> Result<i64, ReplyError> {
    let body = crate::sanitize::clean_email_html(body_html);
    if mail_parser::decoders::html::html_to_text(&body)
        .trim()
        .is_empty()
    {
        return Err(ReplyError::Empty);
    }
    conn.transaction(|c| {
        let (mailbox_id, status): (i64, i16) = conversations::table
            .find(conversation_id)
            .select((conversations::mailbox_id, conversations::status))
            .first(c)
            .optional()?
            .ok_or(ReplyError::NotFound)?;
        let now = db::now();
        let text = mail_parser::decoders::html::html_to_text(&body);
        let id = thread::add(
            c,
            &thread::NewThread {
                conversation_id,
                thread_type: ThreadType::Note.as_i16(),
                status,
                body_html: &body,
                body_text: &text,
                created_by_user_id: Some(user_id),
                created_at: now,
                updated_at: now,
                ..Default::default()
            },
        )?;
        event::record(
            c,
            EventKind::NoteAdded,
            NewEvent {
                mailbox_id: Some(mailbox_id),
                conversation_id: Some(conversation_id),
                thread_id: Some(id),
                user_id: Some(user_id),
                ..NewEvent::default()
            },
        )?;
        Ok(id)
    })
}

/// In-Reply-To (the latest customer message) and References (every id in the
/// conversation, oldest first) for a new message of ours.
pub fn reply_headers(
    conn: &mut AnyConnection,
    conversation_id: i64,
) -> QueryResult<(String, Vec<String>)> {
    let rows: Vec<(i16, String)> = threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(
            threads::thread_type
                .eq_any([ThreadType::Customer.as_i16(), ThreadType::Message.as_i16()]),
        )
        .filter(threads::message_id.ne(""))
        .order((threads::created_at, threads::id))
        .select((threads::thread_type, threads::message_id))
        .load(conn)?;
    let in_reply_to = rows
        .iter()
        .rev()
        .find(|(t, _)| *t == ThreadType::Customer.as_i16())
        .or(rows.last())
        .map(|(_, id)| id.clone())
        .unwrap_or_default();
    // Long chains keep the first and the latest ids (RFC 5322 suggests trimming the middle).
    let mut ids: Vec<String> = rows
        .into_iter()
        .map(|(_, id)| id)
        .filter(|id| !id.ends_with(".invalid"))
        .collect();
    if ids.len() > 20 {
        let tail = ids.split_off(ids.len() - 19);
        ids.truncate(1);
        ids.extend(tail);
    }
    Ok((in_reply_to, ids))
}

fn variables_for(
    conn: &mut AnyConnection,
    conv: &ConvInfo,
    mb: &mailbox::OutboundSettings,
    user_id: i64,
) -> QueryResult<Variables> {
    let agent: Option<(String, String, String, String)> = users::table
        .find(user_id)
        .select((
            users::first_name,
            users::last_name,
            users::email,
            users::job_title,
        ))
        .first(conn)
        .optional()?;
    let customer: Option<(String, String)> = match conv.customer_id {
        Some(id) => customers::table
            .find(id)
            .select((customers::first_name, customers::last_name))
            .first(conn)
            .optional()?,
        None => None,
    };
    let (first, last, email, title) = agent.unwrap_or_default();
    Ok(Variables {
        agent_name: format!("{first} {last}").trim().to_string(),
        agent_email: email,
        agent_job_title: title,
        mailbox_name: mb.name.clone(),
        mailbox_email: mb.email.clone(),
        customer_name: customer
            .map(|(f, l)| format!("{f} {l}").trim().to_string())
            .unwrap_or_default(),
        conversation_number: conv.number,
    })
}
