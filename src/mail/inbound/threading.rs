//! Thread: the one place that decides whether an incoming message joins an existing
//! conversation. Rules, in order:
//! 1. its `In-Reply-To` or any `References` id is one we stored for this mailbox (ids we
//!    received and ids we generated; ours must carry a valid HMAC);
//! 2. optionally, a `[#number]` subject token, only when the sender is that conversation's
//!    customer or one of its CC'd participants;
//! 3. otherwise a new conversation. A bare matching subject never threads.
//!
//! A conversation closed longer ago than the reopen window is not reopened: the message
//! starts a follow-up conversation linked to it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::crypto::Secrets;
use crate::db::AnyConnection;
use crate::db::schema::{conversations, customer_emails, message_ids};
use crate::db::types::ConversationStatus;
use crate::mail::message_id as our_ids;

use super::parse::ParsedMail;

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Join this conversation.
    Join(i64),
    /// Start a new conversation.
    New,
    /// Start a new conversation that follows up this (long closed) one.
    FollowUp(i64),
}

/// What threading needs besides the message.
#[derive(Debug, Clone)]
pub struct ThreadingRules<'a> {
    /// The mailbox the message arrived in.
    pub mailbox_id: i64,
    /// Whether `[#number]` subject tokens are accepted in this mailbox.
    pub subject_token: bool,
    /// Verifies ids we generated.
    pub secrets: &'a Secrets,
    /// Closed conversations older than this start a follow-up instead of reopening.
    pub reopen_within_days: i64,
    /// The current time.
    pub now: NaiveDateTime,
}

#[derive(Queryable)]
struct Candidate {
    id: i64,
    status: i16,
    closed_at: Option<NaiveDateTime>,
}

/// Decides where `mail` goes.
pub fn find_conversation_for(
    conn: &mut AnyConnection,
    rules: &ThreadingRules<'_>,
    mail: &ParsedMail,
) -> QueryResult<Decision> {
    let found = match by_references(conn, rules, mail)? {
        Some(id) => Some(id),
        None if rules.subject_token => by_subject_token(conn, rules, mail)?,
        None => None,
    };
    let Some(id) = found else {
        return Ok(Decision::New);
    };
    let candidate: Option<Candidate> = conversations::table
        .find(id)
        .select((
            conversations::id,
            conversations::status,
            conversations::closed_at,
        ))
        .first(conn)
        .optional()?;
    let Some(c) = candidate else {
        return Ok(Decision::New);
    };
    let closed = c.status == ConversationStatus::Closed.as_i16();
    let too_old = c
        .closed_at
        .is_some_and(|at| rules.now - at > chrono::Duration::days(rules.reopen_within_days));
    Ok(if closed && too_old {
        Decision::FollowUp(c.id)
    } else {
        Decision::Join(c.id)
    })
}

/// The referenced ids, most relevant first: In-Reply-To, then References newest first.
/// Ids in our own format with a bad signature are dropped.
fn candidate_ids<'m>(rules: &ThreadingRules<'_>, mail: &'m ParsedMail) -> Vec<&'m str> {
    let mut ids: Vec<&str> = Vec::new();
    for id in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
        let forged = our_ids::looks_generated(id) && !our_ids::verify(rules.secrets, id);
        if !forged && !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    ids
}

fn by_references(
    conn: &mut AnyConnection,
    rules: &ThreadingRules<'_>,
    mail: &ParsedMail,
) -> QueryResult<Option<i64>> {
    let ids = candidate_ids(rules, mail);
    if ids.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(String, i64)> = message_ids::table
        .filter(message_ids::mailbox_id.eq(rules.mailbox_id))
        .filter(message_ids::message_id.eq_any(&ids))
        .select((message_ids::message_id, message_ids::conversation_id))
        .load(conn)?;
    Ok(ids
        .iter()
        .find_map(|id| rows.iter().find(|(m, _)| m == id).map(|(_, conv)| *conv)))
}

/// The number in a `[#123]` subject token.
pub fn subject_token(subject: &str) -> Option<i64> {
    let start = subject.find("[#")? + 2;
    let rest = &subject[start..];
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok().filter(|n: &i64| *n > 0)
}

fn by_subject_token(
    conn: &mut AnyConnection,
    rules: &ThreadingRules<'_>,
    mail: &ParsedMail,
) -> QueryResult<Option<i64>> {
    let (Some(number), Some(from)) = (subject_token(&mail.subject), mail.from.as_ref()) else {
        return Ok(None);
    };
    let conv: Option<(i64, Option<i64>, String)> = conversations::table
        .filter(conversations::number.eq(number))
        .filter(conversations::mailbox_id.eq(rules.mailbox_id))
        .select((
            conversations::id,
            conversations::customer_id,
            conversations::cc,
        ))
        .first(conn)
        .optional()?;
    let Some((id, customer_id, cc)) = conv else {
        return Ok(None);
    };
    let participants: Vec<String> = serde_json::from_str(&cc).unwrap_or_default();
    if participants
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&from.email))
    {
        return Ok(Some(id));
    }
    let Some(customer_id) = customer_id else {
        return Ok(None);
    };
    let is_customer: i64 = customer_emails::table
        .filter(customer_emails::customer_id.eq(customer_id))
        .filter(customer_emails::email.eq(&from.email))
        .count()
        .get_result(conn)?;
    Ok((is_customer > 0).then_some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_tokens_are_read_strictly() {
        assert_eq!(subject_token("Re: Printer [#42]"), Some(42));
        assert_eq!(subject_token("[#7] Help"), Some(7));
        assert_eq!(subject_token("Help #42"), None);
        assert_eq!(subject_token("[#abc]"), None);
        assert_eq!(subject_token("[#-3]"), None);
        assert_eq!(subject_token("[#"), None);
    }
}
