//! Parse: raw RFC 5322 bytes into the parts Postdesk stores, with `mail-parser` doing the
//! MIME work (charsets, encoded words, RFC 2231 names, nested multiparts).

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// An address with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAddress {
    /// Lower-cased address.
    pub email: String,
    /// Display name, possibly empty.
    pub name: String,
}

/// A file carried by the message.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAttachment {
    /// Sanitized display name (never empty).
    pub file_name: String,
    /// `type/subtype`, lower-case.
    pub mime_type: String,
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// `Content-ID` without angle brackets, for `cid:` links.
    pub content_id: Option<String>,
    /// Shown inline in the body (a `cid:` image).
    pub inline: bool,
}

/// What the classifier needs from the headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassifyHeaders {
    /// `Auto-Submitted`.
    pub auto_submitted: Option<String>,
    /// `X-Autoreply` or `X-Autorespond` present.
    pub x_autoreply: bool,
    /// `Precedence`.
    pub precedence: Option<String>,
    /// `List-Id` or `List-Unsubscribe` present.
    pub list: bool,
    /// Top-level `multipart/report; report-type=delivery-status`.
    pub delivery_report: bool,
    /// The Message-ID of the message a delivery report is about, if it carries it.
    pub bounced_message_id: Option<String>,
    /// A human-readable reason from the report (`Diagnostic-Code` or `Status`).
    pub bounce_reason: Option<String>,
}

/// One parsed message.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// Message-ID without angle brackets; `None` when the header is missing.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids.
    pub in_reply_to: Vec<String>,
    /// `References` ids, oldest first.
    pub references: Vec<String>,
    /// Decoded subject ("" when missing).
    pub subject: String,
    /// The sender (From; Sender when From is missing).
    pub from: Option<MailAddress>,
    /// Reply-To, kept for replying; never decides who the customer is.
    pub reply_to: Option<MailAddress>,
    /// To recipients.
    pub to: Vec<MailAddress>,
    /// Cc recipients.
    pub cc: Vec<MailAddress>,
    /// The Date header in UTC.
    pub date: Option<chrono::NaiveDateTime>,
    /// Plain-text body (converted from HTML when only HTML exists).
    pub text: String,
    /// The HTML body as sent (unsanitized), if any.
    pub html: Option<String>,
    /// Attachments and inline images.
    pub attachments: Vec<ParsedAttachment>,
    /// Headers for classification.
    pub classify: ClassifyHeaders,
    /// SHA-256 over what makes this message this message (not transport headers), hex.
    pub content_hash: String,
}

/// Why a message could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    /// Nothing that looks like a message.
    #[error("the message is empty or has no headers")]
    NotAMessage,
}

/// The name given to a calendar part that has none.
const UNNAMED_CALENDAR: &str = "invite.ics";

/// Largest subject kept; longer ones are cut (the column holds 998 characters).
const SUBJECT_MAX: usize = 998;

/// Parses a raw message.
pub fn parse(raw: &[u8]) -> Result<ParsedMail, ParseError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    if message.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }
    let from = first_address(message.from()).or_else(|| first_address(message.sender()));
    let html = message
        .html_bodies()
        .find(|p| matches!(p.body, PartType::Html(_)))
        .and_then(|p| match &p.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        });
    let text = message
        .body_text(0)
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default();
    let found: Vec<(ParsedAttachment, bool)> =
        message.attachments().filter_map(to_attachment).collect();
    // An unnamed text/calendar alternative repeats a named .ics attachment when there is one.
    let named_calendar = found.iter().any(|(a, named)| *named && is_calendar(a));
    let attachments = found
        .into_iter()
        .filter(|(a, named)| *named || !(named_calendar && is_calendar(a)))
        .map(|(a, _)| a)
        .collect();
    let mut classify = ClassifyHeaders {
        auto_submitted: header_text(&message, "Auto-Submitted"),
        x_autoreply: message.header("X-Autoreply").is_some()
            || message.header("X-Autorespond").is_some(),
        precedence: header_text(&message, "Precedence").map(|p| p.to_ascii_lowercase()),
        list: !message.list_id().is_empty() || !message.list_unsubscribe().is_empty(),
        ..ClassifyHeaders::default()
    };
    let is_report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    });
    if is_report {
        classify.delivery_report = true;
        read_delivery_report(&message, &mut classify);
    }
    let subject: String = message
        .subject()
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(SUBJECT_MAX)
        .collect();
    let date = message
        .date()
        .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0))
        .map(|d| d.naive_utc());
    let mut parsed = ParsedMail {
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty()),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        subject,
        from,
        reply_to: first_address(message.reply_to()),
        to: all_addresses(message.to()),
        cc: all_addresses(message.cc()),
        date,
        text,
        html,
        attachments,
        classify,
        content_hash: String::new(),
    };
    parsed.content_hash = content_hash(&parsed);
    Ok(parsed)
}

/// Strips angle brackets and whitespace from a Message-ID.
pub fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(250)
        .collect()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match value {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for id in list {
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    // A hostile header must not turn into a thousand lookups.
    if out.len() > 100 {
        out.drain(..out.len() - 100);
    }
    out
}

fn to_mail_address(addr: &mail_parser::Addr<'_>) -> Option<MailAddress> {
    let email = addr.address()?.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return None;
    }
    let name = addr
        .name()
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    Some(MailAddress { email, name })
}

fn first_address(addr: Option<&Address<'_>>) -> Option<MailAddress> {
    addr?.iter().find_map(to_mail_address)
}

fn all_addresses(addr: Option<&Address<'_>>) -> Vec<MailAddress> {
    addr.map(|a| a.iter().filter_map(to_mail_address).take(200).collect())
        .unwrap_or_default()
}

fn header_text(message: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    message
        .header_raw(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn is_calendar(a: &ParsedAttachment) -> bool {
    matches!(a.mime_type.as_str(), "text/calendar" | "application/ics")
        || a.file_name.ends_with(".ics")
}

/// The attachment a part stands for, and whether it had a name of its own.
fn to_attachment(part: &mail_parser::MessagePart<'_>) -> Option<(ParsedAttachment, bool)> {
    let mime_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase();
    let data: Vec<u8> = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
        PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
        // A forwarded message is kept as an .eml attachment, byte for byte.
        PartType::Message(m) => m.raw_message().to_vec(),
        PartType::Multipart(_) => return None,
    };
    let named = part.attachment_name().is_some_and(|n| !n.trim().is_empty());
    let kind_kept = matches!(part.body, PartType::Message(_)) || mime_type == "text/calendar";
    let content_id = part.content_id().map(clean_id).filter(|c| !c.is_empty());
    // Unnamed report parts (delivery-status, headers) are shown in the body, not as files.
    if !named && content_id.is_none() && !kind_kept {
        return None;
    }
    let inline = content_id.is_some()
        && matches!(part.body, PartType::InlineBinary(_) | PartType::Binary(_))
        && mime_type.starts_with("image/")
        && !part
            .content_disposition()
            .is_some_and(|d| d.is_attachment());
    let fallback = match &part.body {
        PartType::Message(_) => "message.eml",
        _ if mime_type == "application/ms-tnef" => "winmail.dat",
        _ if mime_type == "text/calendar" => UNNAMED_CALENDAR,
        _ => "attachment",
    };
    let file_name = sanitize_file_name(part.attachment_name().unwrap_or(fallback), fallback);
    Some((
        ParsedAttachment {
            file_name,
            mime_type,
            data,
            content_id,
            inline,
        },
        named,
    ))
}

/// A file name safe to show and to offer as a download: no path parts, control
/// characters or markup characters, at most 200 characters, never empty.
pub fn sanitize_file_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '<' | '>' | '"' | '\'' | '`' | ':' | '*' | '?' | '|')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut out: String = trimmed.chars().take(200).collect();
    if out.is_empty() {
        out = fallback.to_string();
    }
    out
}

fn read_delivery_report(message: &mail_parser::Message<'_>, classify: &mut ClassifyHeaders) {
    for part in message.parts.iter() {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let kind =
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase();
        match kind.as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                for line in text.lines() {
                    let lower = line.to_ascii_lowercase();
                    if lower.starts_with("diagnostic-code:")
                        || (classify.bounce_reason.is_none() && lower.starts_with("status:"))
                    {
                        let value = line
                            .split_once(':')
                            .map(|(_, v)| v.trim())
                            .unwrap_or_default();
                        classify.bounce_reason = Some(value.chars().take(500).collect());
                    }
                }
            }
            "message/rfc822" | "message/global" => {
                if let PartType::Message(inner) = &part.body
                    && let Some(id) = inner.message_id()
                {
                    classify.bounced_message_id = Some(clean_id(id));
                }
            }
            "text/rfc822-headers" => {
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                if let Some(id) = find_message_id_header(&text) {
                    classify.bounced_message_id = Some(id);
                }
            }
            _ => {}
        }
    }
}

fn find_message_id_header(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("message-id")
            .then(|| clean_id(value))
            .filter(|v| !v.is_empty())
    })
}

fn content_hash(mail: &ParsedMail) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(mail.message_id.as_deref().unwrap_or_default().as_bytes());
    field(
        mail.from
            .as_ref()
            .map(|f| f.email.as_str())
            .unwrap_or_default()
            .as_bytes(),
    );
    field(mail.subject.as_bytes());
    field(
        mail.date
            .map(|d| d.and_utc().timestamp())
            .unwrap_or_default()
            .to_string()
            .as_bytes(),
    );
    field(mail.text.trim_end().as_bytes());
    field(
        mail.html
            .as_deref()
            .unwrap_or_default()
            .trim_end()
            .as_bytes(),
    );
    for a in &mail.attachments {
        field(a.file_name.as_bytes());
        field(&Sha256::digest(&a.data));
    }
    hex(&h.finalize())
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
