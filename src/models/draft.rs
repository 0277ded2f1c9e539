//! Reply drafts: a thread in state Draft written by one agent in one conversation. The
//! editor autosaves into it; "Undo" turns a queued reply back into one
//! ([`crate::conversations::reply::undo`]). Draft threads are not shown among the
//! conversation's messages.

use diesel::prelude::*;

use crate::db::schema::{conversations, threads};
use crate::db::types::{ConversationState, ThreadType};
use crate::db::{self, AnyConnection, dialect};

/// What a draft keeps besides its body, stored as the thread's `action_data` JSON.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DraftExtras {
    /// Uploads attached as files (not the pasted images, which the body references).
    #[serde(default)]
    pub uploads: Vec<i64>,
    /// The status chosen for after sending, if any.
    #[serde(default)]
    pub status_after: Option<i16>,
}

/// A saved draft.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Its thread.
    pub thread_id: i64,
    /// The body (sanitized; pasted images as `cid:upload-N@postdesk`).
    pub body_html: String,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Bcc addresses.
    pub bcc: Vec<String>,
    /// Files and the chosen status.
    pub extras: DraftExtras,
}

/// What an agent's editor holds.
#[derive(Debug, Clone)]
pub struct DraftFields<'a> {
    /// The body (already sanitized by the caller).
    pub body_html: &'a str,
    /// Cc addresses.
    pub cc: &'a [String],
    /// Bcc addresses.
    pub bcc: &'a [String],
    /// Files and the chosen status.
    pub extras: &'a DraftExtras,
}

fn json_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The agent's latest draft in a conversation, if any.
pub fn find(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user_id: i64,
) -> QueryResult<Option<Draft>> {
    let row: Option<(i64, String, String, String, String)> = threads::table
        .filter(threads::conversation_id.eq(conversation_id))
        .filter(threads::created_by_user_id.eq(user_id))
        .filter(threads::state.eq(ConversationState::Draft.as_i16()))
        .order(threads::id.desc())
        .select((
            threads::id,
            threads::body_html,
            threads::cc_list,
            threads::bcc_list,
            threads::action_data,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(thread_id, body_html, cc, bcc, data)| Draft {
        thread_id,
        body_html,
        cc: json_list(&cc),
        bcc: json_list(&bcc),
        extras: serde_json::from_str(&data).unwrap_or_default(),
    }))
}

/// Saves the agent's draft (updating the one there is); returns its thread id.
pub fn save(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user_id: i64,
    fields: &DraftFields<'_>,
) -> QueryResult<i64> {
    let text = mail_parser::decoders::html::html_to_text(fields.body_html);
    let cc = serde_json::Value::from(fields.cc.to_vec()).to_string();
    let bcc = serde_json::Value::from(fields.bcc.to_vec()).to_string();
    let extras = serde_json::to_string(fields.extras).unwrap_or_default();
    let now = db::now();
    conn.transaction(|c| {
        if let Some(found) = find(c, conversation_id, user_id)? {
            diesel::update(threads::table.find(found.thread_id))
                .set((
                    threads::body_html.eq(fields.body_html),
                    threads::body_text.eq(&text),
                    threads::cc_list.eq(&cc),
                    threads::bcc_list.eq(&bcc),
                    threads::action_data.eq(&extras),
                    threads::updated_at.eq(now),
                ))
                .execute(c)?;
            return Ok(found.thread_id);
        }
        // Not through `thread::add`: a draft is not a message of the conversation yet.
        dialect::insert_returning_id(c, |c| {
            diesel::insert_into(threads::table)
                .values((
                    threads::conversation_id.eq(conversation_id),
                    threads::thread_type.eq(ThreadType::Message.as_i16()),
                    threads::state.eq(ConversationState::Draft.as_i16()),
                    threads::body_html.eq(fields.body_html),
                    threads::body_text.eq(&text),
                    threads::cc_list.eq(&cc),
                    threads::bcc_list.eq(&bcc),
                    threads::action_data.eq(&extras),
                    threads::created_by_user_id.eq(Some(user_id)),
                    threads::created_at.eq(now),
                    threads::updated_at.eq(now),
                ))
                .execute(c)
        })
    })
}

/// Deletes the agent's drafts in a conversation (after sending, or on "discard"). A draft
/// that was a reply taken back with "Undo" was counted as a thread: the count drops again.
pub fn discard(conn: &mut AnyConnection, conversation_id: i64, user_id: i64) -> QueryResult<()> {
    conn.transaction(|c| {
        let found: Vec<(i64, String)> = threads::table
            .filter(threads::conversation_id.eq(conversation_id))
            .filter(threads::created_by_user_id.eq(user_id))
            .filter(threads::state.eq(ConversationState::Draft.as_i16()))
            .select((threads::id, threads::message_id))
            .load(c)?;
        let counted = found.iter().filter(|(_, mid)| !mid.is_empty()).count() as i32;
        let ids: Vec<i64> = found.into_iter().map(|(id, _)| id).collect();
        diesel::delete(threads::table.filter(threads::id.eq_any(&ids))).execute(c)?;
        if counted > 0 {
            diesel::update(conversations::table.find(conversation_id))
                .set(conversations::threads_count.eq(conversations::threads_count - counted))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Records which uploads a queued reply carries as files, so "Undo" can give them back to
/// the editor.
pub fn remember_uploads(
    conn: &mut AnyConnection,
    thread_id: i64,
    extras: &DraftExtras,
) -> QueryResult<()> {
    diesel::update(threads::table.find(thread_id))
        .set(threads::action_data.eq(serde_json::to_string(extras).unwrap_or_default()))
        .execute(conn)
        .map(|_| ())
}
