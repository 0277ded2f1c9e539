//! Agent notifications, fed from the `events` table at least once.
//!
//! The consumer `notifications` has a cursor in `event_cursors` like every module (the
//! same claim, lease and advance as [`super::events`]); for each event it decides who is
//! told, by the rules below, and writes one `notifications` row per user and event. A
//! crash between writing rows and moving the cursor repeats the event, and the unique
//! `(user_id, event_id)` key makes that harmless.
//!
//! Who is told (only active users who may see the conversation's mailbox, never the user
//! who caused the event, and only per their preferences):
//! - `conversation_created`: everyone → "new conversation";
//! - `customer_replied`: the assignee → "replied to mine"; everyone else → "replied to
//!   unassigned" or "replied to other's" (the assignee when the mail came in, which the
//!   event carries);
//! - `assigned`: the new assignee → "assigned to me";
//! - `note_added`: every user the note mentions → "mentioned". A mention is `@` followed
//!   by the user's full email address (`@anna@company.test`) or first name (`@Anna`,
//!   any case; every user with that first name who can see the mailbox), where the `@`
//!   does not follow a letter or digit (so an address written in a note is no mention);
//! - `send_failed`: the author of the reply → "reply failed".
//!
//! Mail goes through the system SMTP settings (Settings → Mail), the sender agents
//! already know from invitations and password resets, not through a mailbox's outbox:
//! the outbox is for customer mail, tied to a thread of a conversation. The row itself is
//! the durable job: claimed with a lease, its Message-ID fixed before the first attempt,
//! retried with back-off on temporary failures, given up on a 5xx or after
//! [`MAX_ATTEMPTS`] (or at once while no system mail is configured: the in-app
//! notification stays). Each mail has its own signed Message-ID (`pdn.<id>…`) and refers in
//! `In-Reply-To`/`References` to one stable id per conversation (`pdn.c<id>…`), and its
//! subject is `[#number] subject`, so the agent's mail client groups them per
//! conversation.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};

use super::events;
use crate::crypto::Secrets;
use crate::db::schema::{conversations, mailboxes, threads, users};
use crate::db::{self, AnyConnection, DbError, DbPool};
use crate::i18n;
use crate::mail::message_id;
use crate::models::notification::{self, Kind, NewNotification};
use crate::models::system_settings;
use crate::models::user::User;
use crate::permissions;
use crate::system_mail;

/// The consumer name of the notifications cursor.
pub const CONSUMER: &str = "notifications";
/// Mail attempts before giving up.
pub const MAX_ATTEMPTS: i32 = 12;
/// How long a claimed mail stays ours.
const MAIL_LEASE: Duration = Duration::from_secs(120);
/// The error stored on mail that could not be sent because there is no system mail.
pub const NOT_CONFIGURED: &str = "system mail (Settings → Mail) is not configured";
/// Longest excerpt kept.
const SUMMARY_CHARS: usize = 300;

/// Delivers events to notifications and mails them.
#[derive(Clone)]
pub struct Notifier {
    /// The database.
    pub pool: DbPool,
    /// Signs Message-IDs.
    pub secrets: Secrets,
    /// Lease holder name.
    pub worker: String,
    /// The public URL of this Postdesk, for links in mail (may be empty).
    pub app_url: String,
}

struct Conv {
    mailbox_id: i64,
    assignee: Option<i64>,
}

impl Notifier {
    /// One round over new events: writes the notifications they cause and moves the
    /// cursor. Returns how many notifications were written (0 when another process holds
    /// the cursor).
    pub fn deliver_round(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let conn = &mut *conn;
        // Idle rounds only read: no lease is taken while there is nothing to deliver.
        if !events::has_pending(conn, CONSUMER)? {
            return Ok(0);
        }
        events::ensure_cursor(conn, CONSUMER)?;
        let Some(last) = events::claim(conn, CONSUMER, &self.worker)? else {
            return Ok(0);
        };
        let result = self.deliver_from(conn, last);
        events::release(conn, CONSUMER, &self.worker)?;
        result
    }

    fn deliver_from(&self, conn: &mut AnyConnection, last: i64) -> Result<usize, DbError> {
        let mut written = 0;
        for row in events::pending(conn, last)? {
            written += self.notify_for(conn, &row)?;
            events::advance(conn, CONSUMER, &self.worker, row.0)?;
        }
        Ok(written)
    }

    fn notify_for(&self, conn: &mut AnyConnection, row: &events::EventRow) -> QueryResult<usize> {
        let (event_id, kind, _mailbox, conversation_id, thread_id, actor, payload, _at) = row;
        let Some(conversation_id) = *conversation_id else {
            return Ok(0);
        };
        let conv: Option<(i64, Option<i64>)> = conversations::table
            .find(conversation_id)
            .select((conversations::mailbox_id, conversations::user_id))
            .first(conn)
            .optional()?;
        let Some((mailbox_id, assignee)) = conv else {
            return Ok(0);
        };
        let conv = Conv {
            mailbox_id,
            assignee,
        };
        let payload: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
        let body = match thread_id {
            Some(t) => threads::table
                .find(*t)
                .select((
                    threads::body_text,
                    threads::created_by_user_id,
                    threads::from_name,
                    threads::from_email,
                ))
                .first::<(String, Option<i64>, String, String)>(conn)
                .optional()?,
            None => None,
        };
        let (text, author, from_name, from_email) = body.unwrap_or_default();
        // Who wrote the message or note: the agent's name, else the sender's.
        let writer = match author {
            Some(id) => crate::models::user::find(conn, id)?
                .map(|u| u.full_name())
                .unwrap_or_default(),
            None if from_name.trim().is_empty() => from_email,
            None => format!("{} <{from_email}>", from_name.trim()),
        };
        let mut targets: Vec<(User, Kind)> = Vec::new();
        match kind.as_str() {
            "conversation_created" => {
                for u in viewers(conn, &conv)? {
                    targets.push((u, Kind::NewConversation));
                }
            }
            "customer_replied" => {
                // The assignee when the customer wrote (older events: the current one).
                let assignee = match payload.get("assignee") {
                    Some(a) => a.as_i64(),
                    None => conv.assignee,
                };
                for u in viewers(conn, &conv)? {
                    let k = match assignee {
                        Some(a) if a == u.id => Kind::CustomerRepliedMine,
                        Some(_) => Kind::CustomerRepliedOther,
                        None => Kind::CustomerRepliedUnassigned,
                    };
                    targets.push((u, k));
                }
            }
            "assigned" => {
                let to = payload.get("assignee").and_then(serde_json::Value::as_i64);
                for u in viewers(conn, &conv)? {
                    if Some(u.id) == to {
                        targets.push((u, Kind::AssignedToMe));
                    }
                }
            }
            "note_added" => {
                let wanted = mentions(&text);
                if !wanted.is_empty() {
                    for u in viewers(conn, &conv)? {
                        if is_mentioned(&u, &wanted) {
                            targets.push((u, Kind::Mentioned));
                        }
                    }
                }
            }
            "send_failed" => {
                if let Some(author) = author {
                    for u in viewers(conn, &conv)? {
                        if u.id == author {
                            targets.push((u, Kind::ReplyFailed));
                        }
                    }
                }
            }
            _ => {}
        }
        let summary = match kind.as_str() {
            "send_failed" => payload
                .get("reason")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
            "assigned" => match actor {
                Some(by) => crate::models::user::find(conn, *by)?
                    .map(|u| u.full_name())
                    .unwrap_or_default(),
                None => String::new(),
            },
            _ if writer.is_empty() => text,
            _ => format!("{writer}: {text}"),
        };
        let summary = excerpt(&summary);
        let now = db::now();
        let mut written = 0;
        for (u, k) in targets {
            if Some(u.id) == *actor {
                continue;
            }
            let (email, in_app) = notification::pref(conn, u.id, k)?;
            if !email && !in_app {
                continue;
            }
            let created = notification::create(
                conn,
                &NewNotification {
                    user_id: u.id,
                    event_id: *event_id,
                    conversation_id: Some(conversation_id),
                    kind: k,
                    summary: &summary,
                    in_app,
                    email,
                    created_at: now,
                },
            )?;
            written += usize::from(created.is_some());
        }
        Ok(written)
    }

    /// Mails every notification whose mail is due (claimed with a lease). Returns how many
    /// the server accepted.
    pub fn send_due(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let conn = &mut *conn;
        let now = db::now();
        let until = now + chrono::Duration::from_std(MAIL_LEASE).unwrap_or_default();
        let due = notification::claim_due_mail(conn, &self.worker, now, until, 50)?;
        if due.is_empty() {
            return Ok(0);
        }
        let settings = system_settings::load_smtp(conn)?;
        if !settings.is_configured() {
            // No system mail: nothing to retry until an admin sets it up; the in-app
            // notification stays.
            tracing::info!(
                count = due.len(),
                "notification mail skipped: system mail is not configured"
            );
            for n in &due {
                notification::finish_mail(
                    conn,
                    n.id,
                    notification::EMAIL_FAILED,
                    n.email_attempts,
                    None,
                    NOT_CONFIGURED,
                )?;
            }
            return Ok(0);
        }
        let mut sent = 0;
        for n in due {
            let attempts = n.email_attempts + 1;
            match self.mail_one(conn, &settings, &n) {
                Ok(()) => {
                    notification::finish_mail(
                        conn,
                        n.id,
                        notification::EMAIL_SENT,
                        attempts,
                        None,
                        "",
                    )?;
                    sent += 1;
                }
                Err(failure) => {
                    let give_up = failure.permanent || attempts >= MAX_ATTEMPTS;
                    tracing::warn!(notification.id = n.id, error = %failure.message, give_up, "notification mail not sent");
                    let (status, next) = if give_up {
                        (notification::EMAIL_FAILED, None)
                    } else {
                        (
                            notification::EMAIL_PENDING,
                            Some(retry_at(db::now(), attempts)),
                        )
                    };
                    notification::finish_mail(
                        conn,
                        n.id,
                        status,
                        attempts,
                        next,
                        &failure.message,
                    )?;
                }
            }
        }
        Ok(sent)
    }

    fn mail_one(
        &self,
        conn: &mut AnyConnection,
        settings: &system_settings::SmtpSettings,
        n: &notification::Mailing,
    ) -> Result<(), system_mail::SendFailure> {
        let fail =
            |permanent: bool, message: String| system_mail::SendFailure { permanent, message };
        let db_fail = |e: diesel::result::Error| fail(false, format!("database: {e}"));
        let user = crate::models::user::find(conn, n.user_id)
            .map_err(db_fail)?
            .filter(User::is_active)
            .ok_or_else(|| fail(true, "the user is gone or disabled".into()))?;
        let domain = settings
            .from_email
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "postdesk.invalid".into());
        let mut mid = n.message_id.clone();
        if mid.is_empty() {
            mid = message_id::notification(&self.secrets, n.id, &domain);
            notification::set_message_id(conn, n.id, &mid).map_err(db_fail)?;
        }
        let conv: Option<(i64, String, String)> = match n.conversation_id {
            Some(id) => conversations::table
                .inner_join(mailboxes::table)
                .filter(conversations::id.eq(id))
                .select((
                    conversations::number,
                    conversations::subject,
                    mailboxes::name,
                ))
                .first(conn)
                .optional()
                .map_err(db_fail)?,
            None => None,
        };
        let lang = i18n::supported(&user.locale);
        let head = i18n::t(lang, &format!("notify_head_{}", n.kind));
        let (number, subject, mailbox) = conv.unwrap_or_default();
        let mut body = format!("{head}\n\n#{number} {subject} ({mailbox})\n");
        if !n.summary.is_empty() {
            body.push_str(&format!("\n{}\n", n.summary));
        }
        let base = self.app_url.trim_end_matches('/');
        if !base.is_empty() {
            body.push_str(&format!("\n{base}/notifications\n"));
        }
        body.push_str(&format!("\n-- \n{}\n", i18n::t(lang, "notify_mail_footer")));
        if !base.is_empty() {
            body.push_str(&format!("{base}/profile\n"));
        }
        let to = user
            .email
            .parse()
            .map_err(|e| fail(true, format!("bad address {:?}: {e}", user.email)))?;
        let mut builder = Message::builder()
            .from(system_mail::sender(settings).map_err(|e| fail(true, e))?)
            .to(to)
            .subject(format!("[#{number}] {subject}"))
            .date_now()
            .message_id(Some(format!("<{mid}>")));
        if let Some(conv_id) = n.conversation_id {
            let root = format!(
                "<{}>",
                message_id::notification_thread(&self.secrets, conv_id, &domain)
            );
            builder = builder.in_reply_to(root.clone()).references(root);
        }
        let message = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| fail(true, format!("cannot build the message: {e}")))?;
        system_mail::send_message(settings, &message)
    }
}

/// When attempt `attempts` (1-based) is retried: 30 s doubling, at most an hour.
fn retry_at(now: NaiveDateTime, attempts: i32) -> NaiveDateTime {
    let secs = (30i64 << attempts.clamp(0, 7)).min(3600);
    now + chrono::Duration::seconds(secs)
}

/// Active users who may see the conversation's mailbox.
fn viewers(conn: &mut AnyConnection, conv: &Conv) -> QueryResult<Vec<User>> {
    let all: Vec<User> = users::table
        .order(users::id)
        .select(User::as_select())
        .load(conn)?;
    let mut out = Vec::new();
    for u in all {
        if permissions::can_view_mailbox(conn, &u, conv.mailbox_id)? {
            out.push(u);
        }
    }
    Ok(out)
}

/// The mentions in a note's text, lower-cased, without the `@`: each `@` that does not
/// follow a letter or digit, with the email address or name after it.
pub fn mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != '@' || (i > 0 && chars[i - 1].is_alphanumeric()) {
            continue;
        }
        let token: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@'))
            .collect();
        let token = token.trim_end_matches(['.', '-', '@']).to_lowercase();
        if !token.is_empty() && !out.contains(&token) {
            out.push(token);
        }
    }
    out
}

fn is_mentioned(user: &User, wanted: &[String]) -> bool {
    let first = user.first_name.trim().to_lowercase();
    wanted.iter().any(|w| {
        if w.contains('@') {
            *w == user.email.to_lowercase()
        } else {
            !first.is_empty() && *w == first
        }
    })
}

fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SUMMARY_CHARS {
        flat
    } else {
        let mut s: String = flat.chars().take(SUMMARY_CHARS).collect();
        s.push('…');
        s
    }
}

/// Starts the notifications loop on a thread of its own: every second it turns new
/// events into notifications and mails what is due.
pub fn spawn(notifier: Notifier) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("notifications".into())
        .spawn(move || {
            loop {
                if let Err(e) = notifier.deliver_round() {
                    tracing::error!(error = %e, "notification delivery failed");
                }
                if let Err(e) = notifier.send_due() {
                    tracing::error!(error = %e, "notification mail failed");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_names_or_addresses_after_a_free_standing_at() {
        assert_eq!(
            mentions("Hi @Boris, see @anna@company.test. Mail bob@x.test or @Юля!"),
            vec!["boris", "anna@company.test", "юля"]
        );
        assert!(mentions("write to bob@example.test").is_empty());
        assert!(mentions("@ alone").is_empty());
    }

    #[test]
    fn retries_back_off_up_to_an_hour() {
        let now = db::now();
        assert_eq!(retry_at(now, 1) - now, chrono::Duration::seconds(60));
        assert_eq!(retry_at(now, 12) - now, chrono::Duration::seconds(3600));
    }
}
