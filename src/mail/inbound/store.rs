//! Store: one received message becomes customer, conversation, thread, attachments,
//! message-id index entry, fetch record and events — all on the caller's connection, so
//! the caller commits them in one transaction together with the fetch checkpoint.

use diesel::prelude::*;

use crate::crypto::Secrets;
use crate::db::schema::{conversations, inbound_messages, message_ids, outbox, threads};
use crate::db::types::{
    ConversationState, ConversationStatus, ConversationType, LineItemAction, OutboxStatus,
    ThreadType,
};
use crate::db::{self, AnyConnection};
use crate::hooks::filters::InboundVerdict;
use crate::mail::inbound::classify::{Classification, classify};
use crate::mail::inbound::parse::{MailAddress, ParsedMail};
use crate::mail::inbound::quotes;
use crate::mail::inbound::threading::{self, Decision, ThreadingRules};
use crate::models::event::{self, EventKind, NewEvent};
use crate::models::mailbox::InboundSettings;
use crate::models::{attachment, conversation, customer, message_id, thread};
use crate::storage::FileStore;

/// What storing needs besides the message.
#[derive(Debug, Clone, Copy)]
pub struct InboundContext<'a> {
    /// Verifies our own Message-IDs.
    pub secrets: &'a Secrets,
    /// Where attachment bytes go.
    pub files: &'a FileStore,
    /// Every address of every mailbox (mail from these is a loop).
    pub own_addresses: &'a [String],
    /// Closed conversations older than this start a follow-up instead of reopening.
    pub reopen_within_days: i64,
    /// Modules asked about each message before it is threaded (none: not asked).
    pub hooks: Option<&'a crate::hooks::Registry>,
}

/// Where the message came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The mailbox.
    pub mailbox: &'a InboundSettings,
    /// IMAP folder ("" when not fetched over IMAP).
    pub folder: &'a str,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: i64,
    /// The message's UID.
    pub uid: i64,
    /// Where the raw message is kept.
    pub raw_path: &'a str,
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// It started a conversation.
    NewConversation {
        /// The conversation.
        conversation_id: i64,
        /// The thread.
        thread_id: i64,
    },
    /// It joined a conversation.
    Appended {
        /// The conversation.
        conversation_id: i64,
        /// The thread.
        thread_id: i64,
    },
    /// The same message was stored before (delivered twice, or re-scanned).
    Duplicate,
    /// It is a copy of mail we sent ourselves.
    OwnMessage,
    /// A module's `message_before_threading` filter dropped it.
    Dropped,
}

/// Why a message could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// An attachment could not be written.
    #[error("attachment file: {0}")]
    File(#[from] std::io::Error),
}

/// Stores `mail`. Call inside a transaction; see the module docs.
pub fn store_message(
    conn: &mut AnyConnection,
    ctx: &InboundContext<'_>,
    origin: &Origin<'_>,
    mail: &ParsedMail,
    verdict: &InboundVerdict,
) -> Result<Stored, StoreError> {
    // The modules were asked before this transaction began (`super::prepare`), duplicates
    // included (see modules/README.md).
    let mailbox_id = origin.mailbox.id;
    let seen: i64 = inbound_messages::table
        .filter(inbound_messages::mailbox_id.eq(mailbox_id))
        .filter(inbound_messages::dedupe_key.eq(&mail.content_hash))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(Stored::Duplicate);
    }
    let message_id = mail
        .message_id
        .clone()
        .unwrap_or_else(|| format!("{}@no-message-id.invalid", &mail.content_hash[..32]));
    if is_our_own(conn, mailbox_id, &message_id)? {
        return Ok(Stored::OwnMessage);
    }

    let mailbox_id = match verdict {
        InboundVerdict::Drop { .. } => return Ok(Stored::Dropped),
        InboundVerdict::Move { mailbox_id } => *mailbox_id,
        InboundVerdict::Keep | InboundVerdict::Spam { .. } => mailbox_id,
    };

    let now = db::now();
    let class = classify(mail, ctx.own_addresses);
    let unknown = MailAddress {
        email: String::new(),
        name: String::new(),
    };
    let from = mail.from.as_ref().unwrap_or(&unknown);
    let bounced = if class.bounce {
        bounced_reply(conn, mailbox_id, mail)?
    } else {
        None
    };
    let decision = match bounced {
        Some((_, conversation_id)) => Decision::Join(conversation_id),
        None => {
            let rules = ThreadingRules {
                mailbox_id,
                subject_token: origin.mailbox.subject_token_threading,
                secrets: ctx.secrets,
                reopen_within_days: ctx.reopen_within_days,
                now,
            };
            threading::find_conversation_for(conn, &rules, mail)?
        }
    };

    // Daemons and our own addresses are not customers.
    let (customer_id, customer_created) =
        if from.email.is_empty() || class.bounce || class.own_address {
            (None, false)
        } else {
            let (id, created) = customer::find_or_create(conn, &from.email, &from.name, now)?;
            (Some(id), created)
        };

    let participants = participants(mail, origin.mailbox, ctx.own_addresses);
    let (conversation_id, is_new, mut status) = match decision {
        Decision::Join(id) => {
            let status = if class.bounce {
                conversations::table
                    .find(id)
                    .select(conversations::status)
                    .first(conn)?
            } else {
                reopen_and_add_participants(conn, id, &from.email, &participants)?
            };
            (id, false, status)
        }
        Decision::New | Decision::FollowUp(_) => {
            let (id, _number) = conversation::create(
                conn,
                &conversation::NewConversation {
                    mailbox_id,
                    customer_id,
                    customer_email: &from.email,
                    created_by_user_id: None,
                    conversation_type: ConversationType::Email,
                    status: ConversationStatus::Active,
                    state: ConversationState::Published,
                    subject: &mail.subject,
                    created_at: now,
                },
            )?;
            diesel::update(conversations::table.find(id))
                .set(
                    conversations::cc.eq(serde_json::Value::from(participants.clone()).to_string()),
                )
                .execute(conn)?;
            if let Decision::FollowUp(previous) = decision {
                link_follow_up(conn, id, previous, now)?;
            }
            (id, true, ConversationStatus::Active.as_i16())
        }
    };

    if let InboundVerdict::Spam { .. } = verdict {
        diesel::update(conversations::table.find(conversation_id))
            .set(conversations::status.eq(ConversationStatus::Spam.as_i16()))
            .execute(conn)?;
        status = ConversationStatus::Spam.as_i16();
    }
    let html = match &mail.html {
        Some(html) => quotes::mark_quoted_html(&crate::sanitize::clean_email_html(html)),
        None => quotes::text_to_html(&mail.text),
    };
    let has_files = mail.attachments.iter().any(|a| !a.inline);
    let to_json = addresses_json(&mail.to);
    let cc_json = addresses_json(&mail.cc);
    let references_json = serde_json::Value::from(mail.references.clone()).to_string();
    let thread_id = thread::add(
        conn,
        &thread::NewThread {
            conversation_id,
            thread_type: ThreadType::Customer.as_i16(),
            status,
            body_html: &html,
            body_text: &mail.text,
            subject: &mail.subject,
            from_email: &from.email,
            from_name: &from.name,
            to_list: &to_json,
            cc_list: &cc_json,
            message_id: &message_id,
            in_reply_to: mail
                .in_reply_to
                .first()
                .map(String::as_str)
                .unwrap_or_default(),
            references_list: &references_json,
            content_hash: &mail.content_hash,
            raw_path: origin.raw_path,
            customer_id,
            has_attachments: has_files,
            created_at: now,
            updated_at: now,
            ..Default::default()
        },
    )?;
    for file in &mail.attachments {
        let sha = ctx.files.put_attachment(&file.data)?;
        attachment::create(
            conn,
            &attachment::NewAttachment {
                thread_id,
                conversation_id,
                file_name: &file.file_name,
                mime_type: &file.mime_type,
                size_bytes: file.data.len() as i64,
                sha256: &sha,
                content_id: file.content_id.as_deref().unwrap_or_default(),
                is_inline: file.inline,
                created_at: now,
            },
        )?;
    }
    if has_files {
        diesel::update(conversations::table.find(conversation_id))
            .set(conversations::has_attachments.eq(true))
            .execute(conn)?;
    }
    message_id::record(
        conn,
        &message_id::NewMessageId {
            mailbox_id,
            message_id: &message_id,
            thread_id,
            conversation_id,
            created_at: now,
        },
    )?;
    diesel::insert_into(inbound_messages::table)
        .values((
            // The fetching mailbox, even when a module moved the message: dedupe is per fetch.
            inbound_messages::mailbox_id.eq(origin.mailbox.id),
            inbound_messages::thread_id.eq(thread_id),
            inbound_messages::dedupe_key.eq(&mail.content_hash),
            inbound_messages::folder.eq(origin.folder),
            inbound_messages::uidvalidity.eq(origin.uidvalidity),
            inbound_messages::uid.eq(origin.uid),
            inbound_messages::auto_flags.eq(class.bits()),
            inbound_messages::reply_to.eq(mail
                .reply_to
                .as_ref()
                .map(|r| r.email.as_str())
                .unwrap_or_default()),
            inbound_messages::created_at.eq(now),
        ))
        .execute(conn)?;

    if let Some((reply_thread_id, _)) = bounced {
        mark_bounced(conn, reply_thread_id, mail, mailbox_id, conversation_id)?;
    }
    if is_new && origin.mailbox.auto_reply_enabled {
        crate::conversations::auto_reply::maybe_send(
            conn,
            ctx.secrets,
            ctx.files,
            conversation_id,
            class,
            now,
        )?;
    }
    record_events(
        conn,
        &EventsFor {
            mailbox_id,
            conversation_id,
            thread_id,
            customer_id,
            customer_created,
            is_new,
            class,
        },
    )?;
    Ok(if is_new {
        Stored::NewConversation {
            conversation_id,
            thread_id,
        }
    } else {
        Stored::Appended {
            conversation_id,
            thread_id,
        }
    })
}

/// Whether `message_id` belongs to a reply we sent from this mailbox.
fn is_our_own(conn: &mut AnyConnection, mailbox_id: i64, message_id: &str) -> QueryResult<bool> {
    let n: i64 = message_ids::table
        .inner_join(threads::table)
        .filter(message_ids::mailbox_id.eq(mailbox_id))
        .filter(message_ids::message_id.eq(message_id))
        .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// For a bounce: the reply of ours it reports on, as `(thread, conversation)`.
fn bounced_reply(
    conn: &mut AnyConnection,
    mailbox_id: i64,
    mail: &ParsedMail,
) -> QueryResult<Option<(i64, i64)>> {
    let Some(original) = &mail.classify.bounced_message_id else {
        return Ok(None);
    };
    message_ids::table
        .inner_join(threads::table)
        .filter(message_ids::mailbox_id.eq(mailbox_id))
        .filter(message_ids::message_id.eq(original))
        .filter(threads::thread_type.eq(ThreadType::Message.as_i16()))
        .select((message_ids::thread_id, message_ids::conversation_id))
        .first(conn)
        .optional()
}

/// Marks our bounced reply as failed, so its thread shows it and the agent is told.
fn mark_bounced(
    conn: &mut AnyConnection,
    reply_thread_id: i64,
    mail: &ParsedMail,
    mailbox_id: i64,
    conversation_id: i64,
) -> QueryResult<()> {
    let reason = mail
        .classify
        .bounce_reason
        .clone()
        .unwrap_or_else(|| mail.subject.clone());
    diesel::update(outbox::table.filter(outbox::thread_id.eq(reply_thread_id)))
        .set((
            outbox::status.eq(OutboxStatus::Failed.as_i16()),
            outbox::last_error.eq(format!("bounced: {reason}")),
            outbox::updated_at.eq(db::now()),
        ))
        .execute(conn)?;
    event::record(
        conn,
        EventKind::SendFailed,
        NewEvent {
            mailbox_id: Some(mailbox_id),
            conversation_id: Some(conversation_id),
            thread_id: Some(reply_thread_id),
            payload: serde_json::json!({"reason": format!("bounced: {reason}"), "bounce": true}),
            ..NewEvent::default()
        },
    )
}

/// A customer (or a CC'd colleague) wrote: the conversation is active again (spam stays
/// spam), restored from Deleted, and the sender and new CCs become participants. Returns
/// the status it now has.
fn reopen_and_add_participants(
    conn: &mut AnyConnection,
    id: i64,
    sender: &str,
    new_participants: &[String],
) -> QueryResult<i16> {
    let (status, state, cc, customer_email): (i16, i16, String, String) = conversations::table
        .find(id)
        .select((
            conversations::status,
            conversations::state,
            conversations::cc,
            conversations::customer_email,
        ))
        .first(conn)?;
    let mut list: Vec<String> = serde_json::from_str(&cc).unwrap_or_default();
    for p in new_participants
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(sender))
    {
        if !p.is_empty() && p != customer_email && !list.iter().any(|x| x == p) {
            list.push(p.to_string());
        }
    }
    let spam = status == ConversationStatus::Spam.as_i16();
    let new_status = if spam {
        status
    } else {
        ConversationStatus::Active.as_i16()
    };
    let new_state = if state == ConversationState::Deleted.as_i16() {
        ConversationState::Published.as_i16()
    } else {
        state
    };
    diesel::update(conversations::table.find(id))
        .set((
            conversations::status.eq(new_status),
            conversations::state.eq(new_state),
            conversations::closed_at.eq(None::<chrono::NaiveDateTime>),
            conversations::cc.eq(serde_json::Value::from(list).to_string()),
        ))
        .execute(conn)?;
    Ok(new_status)
}

/// A line item in the new conversation pointing at the one it follows up.
fn link_follow_up(
    conn: &mut AnyConnection,
    id: i64,
    previous: i64,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let number: i64 = conversations::table
        .find(previous)
        .select(conversations::number)
        .first(conn)?;
    let data = serde_json::json!({"conversation_id": previous, "number": number}).to_string();
    thread::add(
        conn,
        &thread::NewThread {
            conversation_id: id,
            thread_type: ThreadType::LineItem.as_i16(),
            status: ConversationStatus::Active.as_i16(),
            action_type: Some(LineItemAction::FollowUpOf.as_i16()),
            action_data: &data,
            created_at: now,
            updated_at: now,
            ..Default::default()
        },
    )
    .map(|_| ())
}

/// Everyone on To and Cc except our own addresses: who else takes part.
fn participants(mail: &ParsedMail, mailbox: &InboundSettings, own: &[String]) -> Vec<String> {
    let ours = mailbox.addresses();
    let mut out: Vec<String> = Vec::new();
    for a in mail.to.iter().chain(mail.cc.iter()) {
        if !ours.contains(&a.email) && !own.contains(&a.email) && !out.contains(&a.email) {
            out.push(a.email.clone());
        }
    }
    out
}

fn addresses_json(list: &[MailAddress]) -> String {
    serde_json::Value::from(list.iter().map(|a| a.email.clone()).collect::<Vec<_>>()).to_string()
}

struct EventsFor {
    mailbox_id: i64,
    conversation_id: i64,
    thread_id: i64,
    customer_id: Option<i64>,
    customer_created: bool,
    is_new: bool,
    class: Classification,
}

fn record_events(conn: &mut AnyConnection, e: &EventsFor) -> QueryResult<()> {
    let base = || NewEvent {
        mailbox_id: Some(e.mailbox_id),
        conversation_id: Some(e.conversation_id),
        thread_id: Some(e.thread_id),
        ..NewEvent::default()
    };
    if e.customer_created {
        event::record(
            conn,
            EventKind::CustomerCreated,
            NewEvent {
                payload: serde_json::json!({"customer_id": e.customer_id}),
                ..base()
            },
        )?;
    }
    let kind = if e.is_new {
        EventKind::ConversationCreated
    } else {
        EventKind::CustomerReplied
    };
    // The assignee when the mail came in: notifications tell "mine", "unassigned" or
    // "someone else's" by it, however late they are delivered.
    let assignee: Option<i64> = conversations::table
        .find(e.conversation_id)
        .select(conversations::user_id)
        .first(conn)?;
    let payload = serde_json::json!({
        "assignee": assignee,
        "customer_id": e.customer_id,
        "auto_reply": e.class.auto_reply,
        "bounce": e.class.bounce,
        "list": e.class.list,
        "own_address": e.class.own_address,
        "suppress_auto_reply": e.class.suppresses_auto_reply(),
    });
    event::record(
        conn,
        kind,
        NewEvent {
            payload: payload.clone(),
            ..base()
        },
    )?;
    event::record(conn, EventKind::MailFetched, NewEvent { payload, ..base() })
}
