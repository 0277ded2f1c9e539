//! Compose: a thread of ours becomes a MIME message with lettre: From/Reply-To the mailbox,
//! our signed Message-ID, In-Reply-To and References so the customer's client threads it,
//! `Auto-Submitted: auto-replied` on auto-replies (RFC 3834), text + HTML alternatives and
//! attachments. Built once per outbox row and stored, so retries resend the same bytes.

use diesel::prelude::*;
use lettre::Address;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::db::AnyConnection;
use crate::db::schema::{conversations, threads, users};
use crate::db::types::{FromNameMode, OutboxKind};
use crate::models::outbox::OutboxRow;
use crate::models::{attachment, mailbox};
use crate::storage::FileStore;

/// A built message and its SMTP envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    /// The RFC 5322 bytes.
    pub mime: Vec<u8>,
    /// Envelope sender.
    pub from: String,
    /// Every recipient, Bcc included.
    pub to: Vec<String>,
}

impl Composed {
    /// The envelope as stored in the outbox row.
    pub fn envelope_json(&self) -> String {
        serde_json::json!({"from": self.from, "to": self.to}).to_string()
    }

    /// Reads a stored envelope back.
    pub fn from_stored(mime: Vec<u8>, envelope: &str) -> Option<Composed> {
        let v: serde_json::Value = serde_json::from_str(envelope).ok()?;
        let from = v.get("from")?.as_str()?.to_string();
        let to = v
            .get("to")?
            .as_array()?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        Some(Composed { mime, from, to })
    }
}

/// Why a message could not be built; these are permanent (fixing them needs a person).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The thread, conversation or mailbox is gone.
    #[error("the {0} to send no longer exists")]
    Missing(&'static str),
    /// An address is not valid.
    #[error("invalid address {0:?}")]
    Address(String),
    /// No recipient at all.
    #[error("the message has no recipient")]
    NoRecipient,
    /// lettre refused the message.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// An attachment file is missing.
    #[error("attachment {0}: {1}")]
    Attachment(String, std::io::Error),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

#[derive(Queryable)]
struct ThreadParts {
    body_html: String,
    body_text: String,
    subject: String,
    to_list: String,
    cc_list: String,
    bcc_list: String,
    message_id: String,
    in_reply_to: String,
    references_list: String,
    created_by_user_id: Option<i64>,
    headers: String,
}

fn list(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.contains('@'))
        .collect()
}

fn parse_address(a: &str) -> Result<Address, ComposeError> {
    a.trim()
        .parse::<Address>()
        .map_err(|_| ComposeError::Address(a.to_string()))
}

/// The subject for a kind of message: "Re: " on replies, "Fwd: " on forwards, once.
/// Auto-replies carry the subject their thread was given.
pub fn subject_for(kind: OutboxKind, subject: &str) -> String {
    let s = subject.trim();
    let lower = s.to_lowercase();
    match kind {
        OutboxKind::Reply if !(lower.starts_with("re:") || lower.starts_with("ответ:")) => {
            format!("Re: {s}")
        }
        OutboxKind::Forward if !lower.starts_with("fwd:") => format!("Fwd: {s}"),
        _ => s.to_string(),
    }
}

/// Builds the message for an outbox row.
pub fn compose(
    conn: &mut AnyConnection,
    files: &FileStore,
    row: &OutboxRow,
) -> Result<Composed, ComposeError> {
    let kind = OutboxKind::from_i16(row.kind).unwrap_or(OutboxKind::Reply);
    let t: ThreadParts = threads::table
        .find(row.thread_id)
        .select((
            threads::body_html,
            threads::body_text,
            threads::subject,
            threads::to_list,
            threads::cc_list,
            threads::bcc_list,
            threads::message_id,
            threads::in_reply_to,
            threads::references_list,
            threads::created_by_user_id,
            threads::headers,
        ))
        .first(conn)
        .optional()?
        .ok_or(ComposeError::Missing("thread"))?;
    let conv_subject: String = conversations::table
        .find(row.conversation_id)
        .select(conversations::subject)
        .first(conn)
        .optional()?
        .ok_or(ComposeError::Missing("conversation"))?;
    let mb = mailbox::outbound_settings(conn, row.mailbox_id)?
        .ok_or(ComposeError::Missing("mailbox"))?;
    let agent: Option<(String, String)> = match t.created_by_user_id {
        Some(id) => users::table
            .find(id)
            .select((users::first_name, users::last_name))
            .first(conn)
            .optional()?,
        None => None,
    };
    let agent_name = agent
        .map(|(f, l)| format!("{f} {l}").trim().to_string())
        .unwrap_or_default();
    let from_name = match FromNameMode::from_i16(mb.from_name_mode) {
        Some(FromNameMode::Agent) if !agent_name.is_empty() => agent_name.clone(),
        Some(FromNameMode::Custom) if !mb.from_name_custom.is_empty() => mb
            .from_name_custom
            .replace("{agent}", &agent_name)
            .replace("{mailbox}", &mb.name),
        _ => mb.name.clone(),
    };
    let from = Mailbox::new(Some(from_name), parse_address(&mb.email)?);
    let to = list(&t.to_list);
    let cc = list(&t.cc_list);
    let mut bcc = list(&t.bcc_list);
    if kind != OutboxKind::Notification && mb.auto_bcc.contains('@') {
        bcc.push(mb.auto_bcc.trim().to_string());
    }
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(ComposeError::NoRecipient);
    }
    let subject = subject_for(
        kind,
        if t.subject.is_empty() {
            &conv_subject
        } else {
            &t.subject
        },
    );
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .reply_to(from)
        .subject(subject)
        .date_now()
        .message_id(Some(format!("<{}>", t.message_id)));
    for a in &to {
        builder = builder.to(Mailbox::new(None, parse_address(a)?));
    }
    for a in &cc {
        builder = builder.cc(Mailbox::new(None, parse_address(a)?));
    }
    if !t.in_reply_to.is_empty() {
        builder = builder.in_reply_to(format!("<{}>", t.in_reply_to));
    }
    let refs = list_ids(&t.references_list);
    if !refs.is_empty() {
        builder = builder.references(
            refs.iter()
                .map(|r| format!("<{r}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    // Headers modules added (reply_before_enqueue); only well-formed X- headers pass.
    let extra: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&t.headers).unwrap_or_default();
    for (name, value) in extra {
        let ok = name.to_ascii_lowercase().starts_with("x-")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !value.contains(['\r', '\n']);
        if ok {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii(name).map_err(|e| ComposeError::Build(e.to_string()))?,
                value,
            ));
        }
    }
    if kind == OutboxKind::AutoReply {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
    }
    if kind == OutboxKind::Notification {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}</body></html>",
        crate::sanitize::clean_email_html(&t.body_html)
    );
    let text = if t.body_text.is_empty() {
        mail_parser::decoders::html::html_to_text(&t.body_html)
    } else {
        t.body_text.clone()
    };
    let mut body = MultiPart::alternative_plain_html(text, html);
    let files_of_thread = attachment::list_for_thread(conn, row.thread_id)?;
    if !files_of_thread.is_empty() {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in files_of_thread {
            let bytes = files
                .get_attachment(&a.sha256)
                .map_err(|e| ComposeError::Attachment(a.file_name.clone(), e))?;
            let ct = ContentType::parse(&a.mime_type).unwrap_or(
                ContentType::parse("application/octet-stream")
                    .map_err(|e| ComposeError::Build(e.to_string()))?,
            );
            // Images the body shows in place (`cid:`) go out inline with their Content-ID.
            let part: SinglePart = if a.is_inline && !a.content_id.is_empty() {
                Attachment::new_inline_with_name(a.content_id.clone(), a.file_name.clone())
                    .body(bytes, ct)
            } else {
                Attachment::new(a.file_name.clone()).body(bytes, ct)
            };
            mixed = mixed.singlepart(part);
        }
        body = mixed;
    }
    let message = builder
        .multipart(body)
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    let mut rcpt: Vec<String> = Vec::new();
    for a in to.iter().chain(cc.iter()).chain(bcc.iter()) {
        let a = a.trim().to_lowercase();
        if !rcpt.contains(&a) {
            rcpt.push(a);
        }
    }
    Ok(Composed {
        mime: message.formatted(),
        from: mb.email.clone(),
        to: rcpt,
    })
}

fn list_ids(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_get_one_prefix() {
        assert_eq!(subject_for(OutboxKind::Reply, "Printer"), "Re: Printer");
        assert_eq!(subject_for(OutboxKind::Reply, "RE: Printer"), "RE: Printer");
        assert_eq!(subject_for(OutboxKind::Forward, "Printer"), "Fwd: Printer");
        assert_eq!(
            subject_for(OutboxKind::NewConversation, "Printer"),
            "Printer"
        );
    }
}
