//! The conversation page: its header (number, subject, status, assignee, customer), the
//! threads (customer mail, our replies with their delivery state, notes, line items), the
//! sidebar (customer card, previous conversations, module slots) and the reply editor;
//! and the handlers behind it: reply, note, draft autosave, undo, retry and the thread
//! order preference. Mail HTML is always shown after the sanitizer, with remote images
//! held back until the agent asks for them.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::AppState;
use crate::conversations::reply::{self, ReplyInput};
use crate::db::schema::{attachments, conversations, customers, followers, outbox, stars, threads};
use crate::db::types::{
    ConversationState, ConversationStatus, LineItemAction, MailboxAccess, OutboxStatus, ThreadType,
};
use crate::db::{self, AnyConnection};
use crate::error::{AppError, html_escape};
use crate::i18n;
use crate::models::conversation::{self, Conversation};
use crate::models::draft::{self, DraftExtras, DraftFields};
use crate::models::user::User;
use crate::models::{customer, mailbox, outbox as outbox_model, preference, upload};
use crate::permissions;
use crate::web::clock::Clock;
use crate::web::compose::{
    Pairs, Sending, addresses, editor_html, field, files_from_uploads, html_for_editor, ids,
    may_write, problem,
};
use crate::web::page::{render_status, see_other};
use crate::web::session::{CsrfForm, CurrentUser};

/// The policy of a page showing one message's remote images: the app's policy with images
/// from anywhere allowed (only on the agent's request for that message).
const CSP_WITH_REMOTE_IMAGES: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: https: http:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The conversation and what `user` may do in its mailbox; 404 when they may not see it.
fn access_to(
    c: &mut AnyConnection,
    user: &User,
    conversation_id: i64,
) -> Result<(Conversation, MailboxAccess), AppError> {
    let conv = conversation::find(c, conversation_id)?.ok_or(AppError::NotFound)?;
    let access =
        permissions::mailbox_access(c, user, conv.mailbox_id)?.ok_or(AppError::NotFound)?;
    Ok((conv, access))
}

/// Like [`access_to`], but 403 unless the user may write in the mailbox.
pub(super) fn writable(
    c: &mut AnyConnection,
    user: &User,
    conversation_id: i64,
) -> Result<Conversation, AppError> {
    let (conv, access) = access_to(c, user, conversation_id)?;
    if !may_write(access) {
        return Err(AppError::Forbidden);
    }
    Ok(conv)
}

/// A thread's conversation, for routes addressed by thread.
fn conversation_of_thread(c: &mut AnyConnection, thread_id: i64) -> Result<i64, AppError> {
    threads::table
        .find(thread_id)
        .select(threads::conversation_id)
        .first(c)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// Rewrites the `src` of every `<img>` in sanitized HTML: `f` gets the URL and answers
/// the new one, or `None` to drop the attribute. The input is the sanitizer's output, so
/// `<` in text is always escaped and attribute values are double-quoted: a small scanner
/// that skips quoted values finds every real tag.
fn rewrite_img_src(html: &str, mut f: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag_and_after = &rest[open..];
        let mut quoted = false;
        let end = tag_and_after
            .char_indices()
            .find(|&(_, ch)| {
                if ch == '"' {
                    quoted = !quoted;
                }
                ch == '>' && !quoted
            })
            .map(|(i, _)| i + 1)
            .unwrap_or(tag_and_after.len());
        let tag = &tag_and_after[..end];
        if tag.starts_with("<img ") {
            out.push_str(&rewrite_one_img(tag, &mut f));
        } else {
            out.push_str(tag);
        }
        rest = &tag_and_after[end..];
    }
    out.push_str(rest);
    out
}

fn rewrite_one_img(tag: &str, f: &mut impl FnMut(&str) -> Option<String>) -> String {
    const SRC: &str = " src=\"";
    let Some(at) = tag.find(SRC) else {
        return tag.to_string();
    };
    let value_start = at + SRC.len();
    let Some(len) = tag[value_start..].find('"') else {
        return tag.to_string();
    };
    let url = tag[value_start..value_start + len].replace("&amp;", "&");
    let head = &tag[..at];
    let tail = &tag[value_start + len + 1..];
    match f(&url) {
        Some(new) => format!("{head} src=\"{}\"{tail}", html_escape(&new)),
        None => format!("{head} data-blocked=\"\"{tail}"),
    }
}

/// A message body ready for the page: sanitized again, `cid:` images pointing at their
/// attachment, remote images removed unless `remote` (returns whether any were held back).
fn display_html(stored: &str, cids: &HashMap<String, i64>, remote: bool) -> (String, bool) {
    let clean = crate::sanitize::clean_email_html(stored);
    let mut blocked = false;
    let html = rewrite_img_src(&clean, |url| {
        let lower = url.trim().to_ascii_lowercase();
        if let Some(cid) = lower.strip_prefix("cid:") {
            let cid = cid.trim_matches(['<', '>']);
            return cids
                .get(cid)
                .map(|id| format!("/attachments/{id}?inline=1"));
        }
        if lower.starts_with("data:") {
            return Some(url.to_string());
        }
        if remote {
            Some(url.to_string())
        } else {
            blocked = true;
            None
        }
    });
    (html, blocked)
}

/// "1.2 MB" for a byte count.
fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.0} KB", b / 1024.0)
    } else {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    }
}

/// A status's name in `lang`.
fn status_name(lang: &str, status: i16) -> String {
    let key = match ConversationStatus::from_i16(status) {
        Some(ConversationStatus::Active) => "conv_status_active",
        Some(ConversationStatus::Pending) => "conv_status_pending",
        Some(ConversationStatus::Closed) => "conv_status_closed",
        Some(ConversationStatus::Spam) => "conv_status_spam",
        None => return status.to_string(),
    };
    i18n::t(lang, key)
}

#[derive(Queryable)]
struct ThreadRow {
    id: i64,
    thread_type: i16,
    action_type: Option<i16>,
    action_data: String,
    body_html: String,
    from_email: String,
    from_name: String,
    to_list: String,
    cc_list: String,
    raw_path: String,
    created_by_user_id: Option<i64>,
    created_at: NaiveDateTime,
}

/// One file of a thread.
#[derive(Debug, serde::Serialize)]
struct FileView {
    id: i64,
    name: String,
    size: String,
    image: bool,
}

/// The delivery state of one of our messages.
#[derive(Debug, serde::Serialize)]
struct Delivery {
    state: &'static str,
    text: String,
    can_undo: bool,
    can_retry: bool,
    due_at: String,
}

/// A thread as the page shows it.
#[derive(Debug, serde::Serialize)]
struct ThreadView {
    id: i64,
    kind: &'static str,
    author: String,
    from_email: String,
    to: String,
    cc: String,
    created_at: String,
    body: String,
    blocked_images: bool,
    images_shown: bool,
    files: Vec<FileView>,
    original: bool,
    line: String,
    forwarded: bool,
    delivery: Option<Delivery>,
    slot: String,
}

/// A user as lists on the page show them.
#[derive(Debug, Clone, serde::Serialize)]
struct Person {
    id: i64,
    name: String,
}

/// The customer card.
#[derive(Debug, serde::Serialize)]
struct CustomerCard {
    name: String,
    company: String,
    notes: String,
    emails: Vec<String>,
}

/// A line in "previous conversations".
#[derive(Debug, serde::Serialize)]
struct Previous {
    id: i64,
    number: i64,
    subject: String,
    status: String,
    when: String,
}

/// What the editor starts with.
#[derive(Debug, Default, serde::Serialize)]
struct EditorState {
    body: String,
    format: &'static str,
    cc: String,
    bcc: String,
    status_after: i16,
    uploads: Vec<upload::Upload>,
    saved: bool,
}

fn json_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// A line item as a sentence ("Anna assigned this to Boris"), from the `action_data` the
/// conversation actions write (see `crate::conversations::actions`): status
/// `{"status"}`, assign `{"assignee": {"id", "name"} | null}`, move `{"from_mailbox":
/// {"id", "name"}}`, merge `{"merged" | "into": {"id", "number"}}`. Names come from the
/// data as written; an unknown shape still reads sensibly.
fn line_sentence(lang: &str, action: Option<i16>, data: &str, actor: &str) -> String {
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    let name = |key: &str| {
        data.get(key)
            .and_then(|v| v.get("name"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let number = |key: &str| {
        data.get(key)
            .and_then(|v| v.get("number"))
            .and_then(serde_json::Value::as_i64)
            .map(|n| format!("#{n}"))
    };
    let actor = if actor.is_empty() {
        i18n::t(lang, "conv_someone")
    } else {
        actor.to_string()
    };
    let (key, value) = match action.and_then(LineItemAction::from_i16) {
        Some(LineItemAction::StatusChanged) => (
            "conv_line_status",
            data.get("status")
                .and_then(serde_json::Value::as_i64)
                .map(|s| status_name(lang, s as i16))
                .unwrap_or_default(),
        ),
        Some(LineItemAction::UserChanged) => match name("assignee") {
            Some(n) => ("conv_line_assigned", n),
            None => ("conv_line_unassigned", String::new()),
        },
        Some(LineItemAction::MovedFromMailbox) => (
            "conv_line_moved",
            name("from_mailbox").unwrap_or_else(|| i18n::t(lang, "conv_another_mailbox")),
        ),
        Some(LineItemAction::Merged) => match (number("merged"), number("into")) {
            (Some(n), _) => ("conv_line_merged", n),
            (None, Some(n)) => ("conv_line_merged_into", n),
            (None, None) => ("conv_line_other", String::new()),
        },
        Some(LineItemAction::Deleted) => ("conv_line_deleted", String::new()),
        Some(LineItemAction::Restored) => ("conv_line_restored", String::new()),
        Some(LineItemAction::FollowUpOf) => {
            ("conv_line_follow_up", number("of").unwrap_or_default())
        }
        None => ("conv_line_other", String::new()),
    };
    i18n::t(lang, key)
        .replace("{actor}", &actor)
        .replace("{value}", &value)
}

fn delivery(
    lang: &str,
    clock: &Clock,
    row: &outbox_model::OutboxRow,
    mine: bool,
    now: NaiveDateTime,
) -> Option<Delivery> {
    let status = OutboxStatus::from_i16(row.status)?;
    let due_at = row.due_at.and_utc().to_rfc3339();
    let (state, text) = match status {
        OutboxStatus::Cancelled => return None,
        OutboxStatus::Queued | OutboxStatus::Sending => {
            ("sending", i18n::t(lang, "conv_delivery_sending"))
        }
        OutboxStatus::Sent => ("sent", i18n::t(lang, "conv_delivery_sent")),
        OutboxStatus::Retrying => (
            "retrying",
            i18n::t(lang, "conv_delivery_retrying")
                .replace("{next}", &clock.date_time(row.due_at))
                .replace("{error}", &row.last_error),
        ),
        OutboxStatus::Failed => (
            "failed",
            i18n::t(lang, "conv_delivery_failed").replace("{error}", &row.last_error),
        ),
    };
    Some(Delivery {
        state,
        text,
        can_undo: mine && status == OutboxStatus::Queued && row.due_at > now,
        can_retry: status == OutboxStatus::Failed,
        due_at,
    })
}

/// Everything the page shows, read in one blocking call.
struct PageInput {
    conversation_id: i64,
    user: User,
    lang: &'static str,
    images_for: Option<i64>,
    forward_thread: Option<i64>,
    hooks: std::sync::Arc<crate::hooks::Registry>,
}

fn load_page(c: &mut AnyConnection, input: PageInput) -> Result<tera::Context, AppError> {
    let PageInput {
        conversation_id,
        user,
        lang,
        images_for,
        forward_thread,
        hooks,
    } = input;
    let (conv, access) = access_to(c, &user, conversation_id)?;
    let clock = Clock::of(&user);
    crate::conversations::actions::mark_read(c, conv.id, user.id)?;
    let newest_first =
        preference::get(c, user.id, preference::THREADS_NEWEST_FIRST)?.as_deref() == Some("1");
    let rows: Vec<ThreadRow> = threads::table
        .filter(threads::conversation_id.eq(conv.id))
        .filter(threads::state.ne(ConversationState::Draft.as_i16()))
        .order((threads::created_at, threads::id))
        .select((
            threads::id,
            threads::thread_type,
            threads::action_type,
            threads::action_data,
            threads::body_html,
            threads::from_email,
            threads::from_name,
            threads::to_list,
            threads::cc_list,
            threads::raw_path,
            threads::created_by_user_id,
            threads::created_at,
        ))
        .load(c)?;
    let files: Vec<(i64, i64, String, String, i64, String, bool)> = attachments::table
        .filter(attachments::conversation_id.eq(conv.id))
        .order(attachments::id)
        .select((
            attachments::id,
            attachments::thread_id,
            attachments::file_name,
            attachments::mime_type,
            attachments::size_bytes,
            attachments::content_id,
            attachments::is_inline,
        ))
        .load(c)?;
    let mut deliveries: HashMap<i64, outbox_model::OutboxRow> = HashMap::new();
    for row in outbox::table
        .filter(outbox::conversation_id.eq(conv.id))
        .order(outbox::id)
        .select(outbox_model::OutboxRow::as_select())
        .load(c)?
    {
        deliveries.insert(row.thread_id, row);
    }
    let all_users = crate::models::user::list(c)?;
    let names: HashMap<i64, String> = all_users.iter().map(|u| (u.id, u.full_name())).collect();
    // Who may be assigned: one query for the mailbox's active members, not one per user.
    let assignable: Vec<Person> = permissions::mailbox_members(c, conv.mailbox_id)?
        .into_iter()
        .map(|u| Person {
            id: u.id,
            name: u.full_name(),
        })
        .collect();
    let visible = permissions::visible_mailboxes(c, &user)?;
    let now = db::now();
    let mut views = Vec::new();
    for t in rows {
        let kind = match ThreadType::from_i16(t.thread_type) {
            Some(ThreadType::Customer) => "customer",
            Some(ThreadType::Message) => "message",
            Some(ThreadType::Note) => "note",
            Some(ThreadType::LineItem) | None => "line",
        };
        let author = match t.created_by_user_id.and_then(|id| names.get(&id)) {
            Some(n) => n.clone(),
            None if !t.from_name.is_empty() => t.from_name.clone(),
            None => t.from_email.clone(),
        };
        let own: Vec<_> = files.iter().filter(|f| f.1 == t.id).collect();
        let cids: HashMap<String, i64> = own
            .iter()
            .filter(|f| !f.5.is_empty())
            .map(|f| (f.5.trim_matches(['<', '>']).to_ascii_lowercase(), f.0))
            .collect();
        let shown = images_for == Some(t.id);
        let (body, blocked) = if kind == "line" {
            (String::new(), false)
        } else {
            display_html(&t.body_html, &cids, shown)
        };
        let line = if kind == "line" {
            line_sentence(lang, t.action_type, &t.action_data, &author)
        } else {
            String::new()
        };
        let slot = if kind == "line" {
            String::new()
        } else {
            hooks
                .render_slot(
                    "thread_after",
                    &serde_json::json!({"conversation_id": conv.id, "thread_id": t.id}),
                )
                .into_iter()
                .map(|f| f.html)
                .collect()
        };
        views.push(ThreadView {
            id: t.id,
            kind,
            author,
            from_email: t.from_email,
            to: json_list(&t.to_list).join(", "),
            cc: json_list(&t.cc_list).join(", "),
            created_at: clock.date_time(t.created_at),
            body,
            blocked_images: blocked,
            images_shown: shown,
            files: own
                .iter()
                .filter(|f| !f.6)
                .map(|f| FileView {
                    id: f.0,
                    name: f.2.clone(),
                    size: human_size(f.4),
                    image: super::downloads::INLINE_TYPES.contains(&f.3.as_str()),
                })
                .collect(),
            original: !t.raw_path.is_empty(),
            line,
            forwarded: t.action_data.contains("\"forward\":true"),
            delivery: deliveries
                .get(&t.id)
                .filter(|_| kind == "message")
                .and_then(|row| {
                    delivery(
                        lang,
                        &clock,
                        row,
                        t.created_by_user_id == Some(user.id),
                        now,
                    )
                }),
            slot,
        });
    }
    if newest_first {
        views.reverse();
    }
    let card = match conv.customer_id {
        Some(id) => customers::table
            .find(id)
            .select(customer::Customer::as_select())
            .first(c)
            .optional()?
            .map(|cu| -> QueryResult<CustomerCard> {
                Ok(CustomerCard {
                    name: format!("{} {}", cu.first_name, cu.last_name)
                        .trim()
                        .to_string(),
                    company: cu.company,
                    notes: cu.notes,
                    emails: customer::emails_of(c, id)?,
                })
            })
            .transpose()?,
        None => None,
    };
    let previous: Vec<Previous> = match conv.customer_id {
        Some(cid) => conversations::table
            .filter(conversations::customer_id.eq(cid))
            .filter(conversations::id.ne(conv.id))
            .filter(
                conversations::mailbox_id.eq_any(visible.iter().map(|m| m.id).collect::<Vec<_>>()),
            )
            .filter(conversations::state.eq(ConversationState::Published.as_i16()))
            .order(conversations::last_reply_at.desc())
            .limit(10)
            .select((
                conversations::id,
                conversations::number,
                conversations::subject,
                conversations::status,
                conversations::last_reply_at,
            ))
            .load::<(i64, i64, String, i16, NaiveDateTime)>(c)?
            .into_iter()
            .map(|(id, number, subject, status, at)| Previous {
                id,
                number,
                subject,
                status: status_name(lang, status),
                when: clock.date_time(at),
            })
            .collect(),
        None => Vec::new(),
    };
    let starred: i64 = stars::table
        .filter(stars::user_id.eq(user.id))
        .filter(stars::conversation_id.eq(conv.id))
        .count()
        .get_result(c)?;
    let following: i64 = followers::table
        .filter(followers::user_id.eq(user.id))
        .filter(followers::conversation_id.eq(conv.id))
        .count()
        .get_result(c)?;
    let mb = mailbox::outbound_settings(c, conv.mailbox_id)?.ok_or(AppError::NotFound)?;
    let vars = crate::conversations::variables::Variables {
        agent_name: user.full_name(),
        agent_email: user.email.clone(),
        agent_job_title: crate::db::schema::users::table
            .find(user.id)
            .select(crate::db::schema::users::job_title)
            .first(c)?,
        mailbox_name: mb.name.clone(),
        mailbox_email: mb.email.clone(),
        customer_name: card.as_ref().map(|k| k.name.clone()).unwrap_or_default(),
        conversation_number: conv.number,
    };
    let signature = crate::sanitize::clean_email_html(&vars.fill_html(&mb.signature));
    let mut editor = EditorState {
        format: "text",
        status_after: mb.status_after_reply,
        ..EditorState::default()
    };
    if let Some(d) = draft::find(c, conv.id, user.id)? {
        editor.body = html_for_editor(&d.body_html);
        editor.format = "html";
        editor.cc = d.cc.join(", ");
        editor.bcc = d.bcc.join(", ");
        editor.status_after = d.extras.status_after.unwrap_or(mb.status_after_reply);
        editor.uploads = upload::owned(c, user.id, &d.extras.uploads)?;
        editor.saved = true;
    }
    let slot_html = |name: &str| -> String {
        hooks
            .render_slot(name, &serde_json::json!({"conversation_id": conv.id}))
            .into_iter()
            .map(|f| f.html)
            .collect()
    };
    let statuses: Vec<serde_json::Value> = ConversationStatus::ALL
        .iter()
        .map(|s| serde_json::json!({"number": s.as_i16(), "value": s, "name": status_name(lang, s.as_i16())}))
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert(
        "conv",
        &serde_json::json!({
            "id": conv.id,
            "number": conv.number,
            "subject": conv.subject,
            "status": conv.status,
            "status_name": status_name(lang, conv.status),
            "assignee": conv.user_id,
            "assignee_name": conv.user_id.and_then(|id| names.get(&id).cloned()),
            "customer_email": conv.customer_email,
            "deleted": conv.state == ConversationState::Deleted.as_i16(),
            "phone": conv.conversation_type == crate::db::types::ConversationType::Phone.as_i16(),
            "starred": starred > 0,
            "following": following > 0,
        }),
    );
    ctx.insert(
        "mailbox",
        &serde_json::json!({"id": mb.id, "name": mb.name, "email": mb.email}),
    );
    ctx.insert("can_write", &may_write(access));
    ctx.insert("threads", &views);
    ctx.insert("newest_first", &newest_first);
    ctx.insert("statuses", &statuses);
    ctx.insert("assignable", &assignable);
    ctx.insert(
        "move_targets",
        &super::home::views(
            visible
                .into_iter()
                .filter(|m| m.id != conv.mailbox_id)
                .collect(),
        ),
    );
    ctx.insert("customer", &card);
    ctx.insert("previous", &previous);
    ctx.insert("signature", &signature);
    ctx.insert("editor", &editor);
    ctx.insert("forward_thread", &forward_thread);
    ctx.insert("slot_sidebar", &slot_html("conversation_sidebar"));
    ctx.insert("slot_toolbar", &slot_html("reply_toolbar"));
    ctx.insert("upload_limit", &super::uploads::UPLOAD_LIMIT);
    Ok(ctx)
}

/// A numeric query parameter.
fn query_i64(req: &HttpRequest, name: &str) -> Option<i64> {
    req.query_string().split('&').find_map(|p| {
        p.strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .and_then(|v| v.parse().ok())
    })
}

/// After a form on the page: back to the page showing `done`, or the page again with the
/// mistake the agent can fix (422).
pub(super) async fn back_to_page(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    id: i64,
    mistake: Option<String>,
    done: &str,
) -> Result<HttpResponse, AppError> {
    match mistake {
        None => Ok(see_other(&format!("/conversations/{id}?done={done}"))),
        Some(msg) => show(state, req, me, id, Some(msg)).await,
    }
}

/// Renders the page; `error` (a mistake in a form just posted) answers 422.
async fn show(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    conversation_id: i64,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let input = PageInput {
        conversation_id,
        user: me.user.clone(),
        lang: i18n::supported(&me.user.locale),
        images_for: query_i64(req, "images"),
        forward_thread: query_i64(req, "forward"),
        hooks: state.hooks.clone(),
    };
    let remote = input.images_for.is_some();
    let mut ctx = db::run(&state.pool, move |c| load_page(c, input)).await?;
    let status = match error {
        Some(msg) => {
            ctx.insert("error", &msg);
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
        }
        None => actix_web::http::StatusCode::OK,
    };
    let mut resp = render_status(state, req, Some(me), "conversation.html", ctx, status)?;
    if remote {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(CSP_WITH_REMOTE_IMAGES),
        );
    }
    Ok(resp)
}

/// `GET /conversations/{id}` (`?images=<thread id>` shows that message's remote images,
/// `?forward=<thread id>` preselects a thread to forward).
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    show(&state, &req, &me, path.into_inner(), None).await
}

/// The editor's fields as a draft.
fn draft_of(form: &Pairs) -> (String, Vec<String>, Vec<String>, DraftExtras) {
    let (body, _) = editor_html(&field(form, "body"), &field(form, "format"));
    let extras = DraftExtras {
        uploads: ids(form, "upload"),
        status_after: field(form, "status_after").parse().ok(),
    };
    (
        body,
        addresses(&field(form, "cc")),
        addresses(&field(form, "bcc")),
        extras,
    )
}

/// `POST /conversations/{id}/reply`: `body` with `format` ("html" from the editor, else
/// text), `cc`, `bcc`, `status_after`, repeated `upload`. Queues the reply (sent after the
/// undo delay), drops the agent's draft and goes back to the page, where the reply shows
/// with its "Undo" button. A mistake keeps the text as the draft and says what is wrong.
pub async fn reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let lang = i18n::supported(&me.user.locale);
    let sending = Sending::of(&state)?;
    let (body_html, inline) = editor_html(&field(&form, "body"), &field(&form, "format"));
    let attached = ids(&form, "upload");
    let status_after = field(&form, "status_after")
        .parse()
        .ok()
        .and_then(ConversationStatus::from_i16);
    let cc = addresses(&field(&form, "cc"));
    let bcc = addresses(&field(&form, "bcc"));
    let (draft_body, draft_cc, draft_bcc, extras) = draft_of(&form);
    let outcome = db::run(&state.pool, move |c| {
        writable(c, &user, id)?;
        let files = files_from_uploads(c, &sending.files, user.id, &inline, &attached)?;
        let input = ReplyInput {
            conversation_id: id,
            user_id: user.id,
            body_html,
            cc,
            bcc,
            status_after,
            files,
        };
        match reply::reply(c, &sending.context(), &input) {
            Ok(saved) => {
                draft::remember_uploads(
                    c,
                    saved.thread_id,
                    &DraftExtras {
                        uploads: attached,
                        status_after: status_after.map(ConversationStatus::as_i16),
                    },
                )?;
                draft::discard(c, id, user.id)?;
                Ok(None)
            }
            Err(e) => {
                let msg = problem(lang, e)?;
                let fields = DraftFields {
                    body_html: &draft_body,
                    cc: &draft_cc,
                    bcc: &draft_bcc,
                    extras: &extras,
                };
                draft::save(c, id, user.id, &fields)?;
                Ok(Some(msg))
            }
        }
    })
    .await?;
    back_to_page(&state, &req, &me, id, outcome, "conv_reply_queued").await
}

/// `POST /conversations/{id}/note`: `body` (text); an internal note, never emailed.
pub async fn note(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let lang = i18n::supported(&me.user.locale);
    let (body, _) = editor_html(&field(&form, "body"), &field(&form, "format"));
    let outcome = db::run(&state.pool, move |c| {
        writable(c, &user, id)?;
        match reply::note(c, id, user.id, &body) {
            Ok(_) => Ok(None),
            Err(e) => problem(lang, e).map(Some),
        }
    })
    .await?;
    back_to_page(&state, &req, &me, id, outcome, "conv_note_added").await
}

/// `POST /conversations/{id}/draft`: the editor's fields (as for reply), saved as the
/// agent's draft; `discard=1` deletes it. Answers 204 (the editor autosaves with fetch).
pub async fn save_draft(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = me.user.clone();
    let discard = field(&form, "discard") == "1";
    let (body, cc, bcc, extras) = draft_of(&form);
    db::run(&state.pool, move |c| {
        writable(c, &user, id)?;
        if discard {
            draft::discard(c, id, user.id)?;
        } else {
            let fields = DraftFields {
                body_html: &body,
                cc: &cc,
                bcc: &bcc,
                extras: &extras,
            };
            draft::save(c, id, user.id, &fields)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /threads/{id}/undo`: within the undo delay, the queued reply is not sent and
/// comes back into the editor as the agent's draft. Only its author may take it back.
pub async fn undo(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let thread_id = path.into_inner();
    let user = me.user.clone();
    let (conv, undone) = db::run(&state.pool, move |c| {
        let conv = conversation_of_thread(c, thread_id)?;
        writable(c, &user, conv)?;
        let author: Option<i64> = threads::table
            .find(thread_id)
            .select(threads::created_by_user_id)
            .first(c)?;
        if author != Some(user.id) {
            return Err(AppError::Forbidden);
        }
        // The reply comes back as the agent's one draft: an older draft goes, unless it
        // is too late to take the reply back (then nothing changes).
        let undone = crate::db::dialect::write_transaction(&mut *c, |c| {
            draft::discard(c, conv, user.id)?;
            if reply::undo(c, thread_id)? {
                Ok(true)
            } else {
                Err(diesel::result::Error::RollbackTransaction)
            }
        });
        let undone = match undone {
            Ok(done) => done,
            Err(diesel::result::Error::RollbackTransaction) => false,
            Err(e) => return Err(e.into()),
        };
        Ok((conv, undone))
    })
    .await?;
    let done = if undone {
        "conv_undone"
    } else {
        "conv_undo_late"
    };
    Ok(see_other(&format!(
        "/conversations/{conv}?done={done}#reply"
    )))
}

/// `POST /threads/{id}/retry`: a failed message goes back into the queue now.
pub async fn retry(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let thread_id = path.into_inner();
    let user = me.user.clone();
    let conv = db::run(&state.pool, move |c| {
        let conv = conversation_of_thread(c, thread_id)?;
        writable(c, &user, conv)?;
        if !outbox_model::retry_now(c, thread_id)? {
            return Err(AppError::NotFound);
        }
        Ok(conv)
    })
    .await?;
    Ok(see_other(&format!(
        "/conversations/{conv}?done=conv_retrying#thread-{thread_id}"
    )))
}

/// `POST /preferences/thread-order`: `newest_first` = 1|0, `return` = the page to go back
/// to (a path on this site).
pub async fn thread_order(
    state: web::Data<AppState>,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<Pairs>,
) -> Result<HttpResponse, AppError> {
    let value = if field(&form, "newest_first") == "1" {
        "1"
    } else {
        "0"
    };
    let back = field(&form, "return");
    let back = if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/".to_string()
    };
    let user_id = me.user.id;
    db::run(&state.pool, move |c| {
        Ok(preference::set(
            c,
            user_id,
            preference::THREADS_NEWEST_FIRST,
            value,
        )?)
    })
    .await?;
    Ok(see_other(&back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_images_are_held_back_and_cid_images_resolved() {
        let cids = HashMap::from([("logo@x".to_string(), 7)]);
        let stored = r#"<p title="<img src=&quot;http://t/x&quot;>">a</p><img alt="a>b" src="https://tracker.test/p.gif?a=1&amp;b=2"><img src="cid:logo@x"><img src="cid:nope">"#;
        let (html, blocked) = display_html(stored, &cids, false);
        assert!(blocked);
        assert!(!html.contains("tracker.test"), "{html}");
        assert!(html.contains(r#"src="/attachments/7?inline=1""#), "{html}");
        assert_eq!(html.matches("data-blocked").count(), 2, "{html}");
        let (html, blocked) = display_html(stored, &cids, true);
        assert!(!blocked);
        assert!(
            html.contains(r#"src="https://tracker.test/p.gif?a=1&amp;b=2""#),
            "{html}"
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 1), "3.0 MB");
    }
}
