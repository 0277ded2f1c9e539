//! Mail an agent starts: a new conversation to one or several people, a forward of a
//! conversation or one thread, and a logged phone call (never emailed).

use diesel::prelude::*;

use super::reply::{NewFile, ReplyError, SendContext, clean_addresses, save_outgoing};
use crate::db::schema::{attachments, conversations, threads, users};
use crate::db::types::{
    ConversationState, ConversationStatus, ConversationType, OutboxKind, ThreadType,
};
use crate::db::{self, AnyConnection};
use crate::models::event::{self, EventKind, NewEvent};
use crate::models::{conversation, customer, mailbox, thread};

/// A new conversation written by an agent.
#[derive(Debug, Clone, Default)]
pub struct NewOutgoing {
    /// The mailbox it is sent from.
    pub mailbox_id: i64,
    /// The agent.
    pub user_id: i64,
    /// Recipients.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Body HTML (sanitized here).
    pub body_html: String,
    /// With several recipients: one conversation each instead of one shared.
    pub one_each: bool,
    /// Attached files.
    pub files: Vec<NewFile>,
}

fn text_of(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(html)
}

/// Writes our thread, then queues it through [`save_outgoing`]; returns the thread id.
fn our_thread(
    c: &mut AnyConnection,
    ctx: &SendContext<'_>,
    kind: OutboxKind,
    mailbox_id: i64,
    mb_email: &str,
    fields: thread::NewThread<'_>,
    files: &[NewFile],
) -> Result<i64, ReplyError> {
    let thread_id = thread::add(c, &fields)?;
    save_outgoing(c, ctx, kind, mailbox_id, mb_email, thread_id, files)?;
    Ok(thread_id)
}

/// Starts one conversation (or one per recipient) and enqueues the mail. Returns the
/// conversation ids.
pub fn start_conversation(
    conn: &mut AnyConnection,
    ctx: &SendContext<'_>,
    input: &NewOutgoing,
) -> Result<Vec<i64>, ReplyError> {
    let to = clean_addresses(&input.to)?;
    let cc = clean_addresses(&input.cc)?;
    if to.is_empty() {
        return Err(ReplyError::BadAddress(String::new()));
    }
    let body = crate::sanitize::clean_email_html(&input.body_html);
    if text_of(&body).trim().is_empty() && input.files.is_empty() {
        return Err(ReplyError::Empty);
    }
    let groups: Vec<Vec<String>> = if input.one_each {
        to.iter().map(|a| vec![a.clone()]).collect()
    } else {
        vec![to.clone()]
    };
    conn.transaction(|c| {
        let mb = mailbox::outbound_settings(c, input.mailbox_id)?.ok_or(ReplyError::NotFound)?;
        let now = db::now();
        let mut ids = Vec::new();
        for group in &groups {
            let first = &group[0];
            let (customer_id, created) = customer::find_or_create(c, first, "", now)?;
            let (conversation_id, _number) = conversation::create(
                c,
                &conversation::NewConversation {
                    mailbox_id: input.mailbox_id,
                    customer_id: Some(customer_id),
                    customer_email: first,
                    created_by_user_id: Some(input.user_id),
                    conversation_type: ConversationType::Email,
                    status: ConversationStatus::Pending,
                    state: ConversationState::Published,
                    subject: &input.subject,
                    created_at: now,
                },
            )?;
            diesel::update(conversations::table.find(conversation_id))
                .set(conversations::user_id.eq(Some(input.user_id)))
                .execute(c)?;
            let to_json = serde_json::Value::from(group.clone()).to_string();
            let cc_json = serde_json::Value::from(cc.clone()).to_string();
            let text = text_of(&body);
            let thread_id = our_thread(
                c,
                ctx,
                OutboxKind::NewConversation,
                input.mailbox_id,
                &mb.email,
                thread::NewThread {
                    conversation_id,
                    thread_type: ThreadType::Message.as_i16(),
                    status: ConversationStatus::Pending.as_i16(),
                    body_html: &body,
                    body_text: &text,
                    subject: &input.subject,
                    from_email: &mb.email,
                    to_list: &to_json,
                    cc_list: &cc_json,
                    references_list: "[]",
                    created_by_user_id: Some(input.user_id),
                    has_attachments: !input.files.is_empty(),
                    created_at: now,
                    updated_at: now,
                    ..Default::default()
                },
                &input.files,
            )?;
            if created {
                event::record(
                    c,
                    EventKind::CustomerCreated,
                    NewEvent {
                        mailbox_id: Some(input.mailbox_id),
                        payload: serde_json::json!({"customer_id": customer_id}),
                        ..NewEvent::default()
                    },
                )?;
            }
            event::record(
                c,
                EventKind::ConversationCreated,
                NewEvent {
                    mailbox_id: Some(input.mailbox_id),
                    conversation_id: Some(conversation_id),
                    thread_id: Some(thread_id),
                    user_id: Some(input.user_id),
                    payload: serde_json::json!({"by_agent": true}),
                },
            )?;
            ids.push(conversation_id);
        }
        Ok(ids)
    })
}

/// Forwards a conversation's latest message, or one thread, to `to` with an optional note.
/// Replies from there thread back into the conversation. Returns the new thread id.
pub fn forward(
    conn: &mut AnyConnection,
    ctx: &SendContext<'_>,
    conversation_id: i64,
    thread_id: Option<i64>,
    user_id: i64,
    to: &[String],
    note_html: &str,
) -> Result<i64, ReplyError> {
    let to = clean_addresses(to)?;
    if to.is_empty() {
        return Err(ReplyError::BadAddress(String::new()));
    }
    conn.transaction(|c| {
        let (mailbox_id, subject, status): (i64, String, i16) = conversations::table
            .find(conversation_id)
            .select((conversations::mailbox_id, conversations::subject, conversations::status))
            .first(c)
            .optional()?
            .ok_or(ReplyError::NotFound)?;
        let source: (i64, String, String, String, chrono::NaiveDateTime) = {
            let mut q = threads::table
                .filter(threads::conversation_id.eq(conversation_id))
                .filter(threads::thread_type.eq_any([ThreadType::Customer.as_i16(), ThreadType::Message.as_i16()]))
                .order((threads::created_at.desc(), threads::id.desc()))
                .select((threads::id, threads::body_html, threads::from_email, threads::subject, threads::created_at))
                .into_boxed();
            if let Some(t) = thread_id {
                q = q.filter(threads::id.eq(t));
            }
            q.first(c).optional()?.ok_or(ReplyError::NotFound)?
        };
        let (source_id, source_html, source_from, source_subject, source_at) = source;
        let mb = mailbox::outbound_settings(c, mailbox_id)?.ok_or(ReplyError::NotFound)?;
        let note = crate::sanitize::clean_email_html(note_html);
        let esc = crate::error::html_escape;
        let html = format!(
            "{note}<p>---------- Forwarded message ----------<br>From: {}<br>Date: {} UTC<br>Subject: {}</p>{}",
            esc(&source_from),
            source_at.format("%Y-%m-%d %H:%M"),
            esc(if source_subject.is_empty() { &subject } else { &source_subject }),
            crate::sanitize::clean_email_html(&source_html)
        );
        let text = text_of(&html);
        let now = db::now();
        let files: Vec<NewFile> = attachments::table
            .filter(attachments::thread_id.eq(source_id))
            .filter(attachments::is_inline.eq(false))
            .select((attachments::file_name, attachments::mime_type, attachments::sha256))
            .load::<(String, String, String)>(c)?
            .into_iter()
            .map(|(file_name, mime_type, sha)| Ok(NewFile { file_name, mime_type, data: ctx.files.get_attachment(&sha)?, content_id: String::new() }))
            .collect::<Result<_, std::io::Error>>()?;
        let to_json = serde_json::Value::from(to.clone()).to_string();
        let agent_name: String = users::table
            .find(user_id)
            .select(users::first_name)
            .first(c)
            .optional()?
            .unwrap_or_default();
        let id = our_thread(
            c,
            ctx,
            OutboxKind::Forward,
            mailbox_id,
            &mb.email,
            thread::NewThread {
                conversation_id,
                thread_type: ThreadType::Message.as_i16(),
                status,
                body_html: &html,
                body_text: &text,
                subject: &subject,
                from_email: &mb.email,
                from_name: &agent_name,
                to_list: &to_json,
                references_list: "[]",
                action_data: r#"{"forward":true}"#,
                created_by_user_id: Some(user_id),
                has_attachments: !files.is_empty(),
                created_at: now,
                updated_at: now,
                ..Default::default()
            },
            &files,
        )?;
        event::record(
            c,
            EventKind::AgentReplied,
            NewEvent { mailbox_id: Some(mailbox_id), conversation_id: Some(conversation_id), thread_id: Some(id), user_id: Some(user_id), payload: serde_json::json!({"forward": true}) },
        )?;
        Ok(id)
    })
}

/// Logs a phone call as a conversation of type phone: stored, never emailed.
pub fn log_phone(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    user_id: i64,
    customer_email: &str,
    customer_name: &str,
    subject: &str,
    note_html: &str,
) -> Result<i64, ReplyError> {
    let email = clean_addresses(&[customer_email.to_string()])?
        .into_iter()
        .next()
        .ok_or(ReplyError::BadAddress(String::new()))?;
    let body = crate::sanitize::clean_email_html(note_html);
    conn.transaction(|c| {
        let now = db::now();
        let (customer_id, _) = customer::find_or_create(c, &email, customer_name, now)?;
        let (id, _) = conversation::create(
            c,
            &conversation::NewConversation {
                mailbox_id,
                customer_id: Some(customer_id),
                customer_email: &email,
                created_by_user_id: Some(user_id),
                conversation_type: ConversationType::Phone,
                status: ConversationStatus::Active,
                state: ConversationState::Published,
                subject,
                created_at: now,
            },
        )?;
        let text = text_of(&body);
        let thread_id = thread::add(
            c,
            &thread::NewThread {
                conversation_id: id,
                thread_type: ThreadType::Message.as_i16(),
                status: ConversationStatus::Active.as_i16(),
                body_html: &body,
                body_text: &text,
                subject,
                created_by_user_id: Some(user_id),
                created_at: now,
                updated_at: now,
                ..Default::default()
            },
        )?;
        event::record(
            c,
            EventKind::ConversationCreated,
            NewEvent {
                mailbox_id: Some(mailbox_id),
                conversation_id: Some(id),
                thread_id: Some(thread_id),
                user_id: Some(user_id),
                payload: serde_json::json!({"phone": true}),
            },
        )?;
        Ok(id)
    })
}
