//! Threads written through the API: a customer message (stored like inbound mail: the
//! conversation reopens and `customer_replied` is announced), an agent reply (through the
//! outbox, exactly like a reply from the UI), or a note. Imported threads keep their
//! dates and send and announce nothing.

use actix_web::{HttpResponse, web};
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use super::auth::ApiUser;
use super::conversations::{CustomerRef, STATUSES, created, require_reply, status_named, visible};
use super::error::{ApiError, FieldError, run};
use super::input::{ApiJson, Checks, parse_date};
use crate::AppState;
use crate::conversations::reply::{self, NewFile, ReplyError, ReplyInput, SendContext};
use crate::crypto::Secrets;
use crate::db::schema::{conversations, customers, users};
use crate::db::types::{ConversationState, ConversationStatus, ThreadType};
use crate::db::{AnyConnection, now};
use crate::models::event::{self, EventKind, NewEvent};
use crate::models::{attachment, customer, mailbox, thread};
use crate::permissions;
use crate::storage::FileStore;

/// A file attached to a thread: `data` (base64); `fileUrl` is refused (the server does
/// not fetch URLs for callers).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentInput {
    /// File name.
    pub file_name: String,
    /// `type/subtype`.
    pub mime_type: Option<String>,
    /// The content, base64.
    pub data: Option<String>,
    /// Not supported: send `data`.
    pub file_url: Option<String>,
}

/// A thread in a request.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadInput {
    /// customer, message or note.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["customer", "message", "note"]))]
    pub kind: String,
    /// The text (HTML allowed; sanitized).
    pub text: String,
    /// The writing user's id (message and note; default: the key's user).
    pub user: Option<i64>,
    /// The writing customer (customer threads; default: the conversation's customer).
    pub customer: Option<CustomerRef>,
    /// Cc addresses.
    pub cc: Option<Vec<String>>,
    /// Bcc addresses.
    pub bcc: Option<Vec<String>>,
    /// When it was written (imported threads only).
    #[schemars(extend("format" = "date-time"))]
    pub created_at: Option<String>,
    /// Attachments.
    pub attachments: Option<Vec<AttachmentInput>>,
}

/// Body of `POST /api/conversations/{conversationId}/threads`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateThread {
    /// The thread.
    #[serde(flatten)]
    pub thread: ThreadInput,
    /// True: nothing is sent or announced, and `createdAt` is kept.
    #[serde(default)]
    pub imported: bool,
    /// The conversation's status afterwards: active, pending or closed.
    #[schemars(extend("enum" = ["active", "pending", "closed", null]))]
    pub status: Option<String>,
    /// published (the default; drafts are not supported).
    #[schemars(extend("enum" = ["published", null]))]
    pub state: Option<String>,
}

/// A checked thread.
#[derive(Debug, Clone)]
pub struct Checked {
    kind: ThreadType,
    html: String,
    /// The writing user.
    pub user: Option<i64>,
    customer: Option<CustomerRef>,
    cc: Vec<String>,
    bcc: Vec<String>,
    created_at: Option<NaiveDateTime>,
    files: Vec<NewFile>,
}

/// Turns plain text into HTML paragraphs; HTML passes through (it is sanitized later).
fn as_html(text: &str) -> String {
    if text.contains('<') {
        return text.to_string();
    }
    text.split("\n\n")
        .map(|p| {
            format!(
                "<p>{}</p>",
                crate::error::html_escape(p).replace('\n', "<br>")
            )
        })
        .collect()
}

fn check_one(checks: &mut Checks, path: &str, t: &ThreadInput) -> Option<Checked> {
    let kind = match t.kind.as_str() {
        "customer" => Some(ThreadType::Customer),
        "message" => Some(ThreadType::Message),
        "note" => Some(ThreadType::Note),
        other => {
            checks.push(
                FieldError::json(&format!("{path}.type"), "")
                    .one_of(&["customer", "message", "note"])
                    .rejecting(other),
            );
            None
        }
    };
    if t.text.trim().is_empty() {
        checks.push(FieldError::json(
            &format!("{path}.text"),
            "may not be empty",
        ));
    }
    let created_at = t.created_at.as_deref().and_then(|s| {
        let d = parse_date(s);
        if d.is_none() {
            checks.push(
                FieldError::json(
                    &format!("{path}.createdAt"),
                    "must be an ISO 8601 date-time",
                )
                .rejecting(s),
            );
        }
        d
    });
    let mut files = Vec::new();
    for (i, a) in t.attachments.iter().flatten().enumerate() {
        let at = format!("{path}.attachments[{i}]");
        match (&a.data, &a.file_url) {
            (Some(data), _) => {
                match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
                    Ok(bytes) => files.push(NewFile {
                        file_name: a.file_name.clone(),
                        mime_type: a
                            .mime_type
                            .clone()
                            .filter(|m| m.contains('/'))
                            .unwrap_or_else(|| "application/octet-stream".into()),
                        data: bytes,
                        content_id: String::new(),
                    }),
                    Err(_) => {
                        checks.push(FieldError::json(&format!("{at}.data"), "must be base64"))
                    }
                }
            }
            (None, Some(_)) => checks.push(FieldError::json(
                &format!("{at}.fileUrl"),
                "fetching files from URLs is not supported; send the content in data",
            )),
            (None, None) => {
                checks.push(FieldError::json(&format!("{at}.data"), "may not be empty"))
            }
        }
    }
    if let Some(c) = &t.customer {
        check_customer(checks, &format!("{path}.customer"), c, false);
    }
    Some(Checked {
        kind: kind?,
        html: as_html(&t.text),
        user: t.user,
        customer: t.customer.clone(),
        cc: t.cc.clone().unwrap_or_default(),
        bcc: t.bcc.clone().unwrap_or_default(),
        created_at,
        files,
    })
}

/// Checks every thread of a new conversation.
pub fn check_all(checks: &mut Checks, path: &str, list: &[ThreadInput]) -> Vec<Checked> {
    list.iter()
        .enumerate()
        .filter_map(|(i, t)| check_one(checks, &format!("{path}[{i}]"), t))
        .collect()
}

/// Checks a customer reference: an id, an email, or (phone conversations) a name or phone.
pub fn check_customer(checks: &mut Checks, path: &str, c: &CustomerRef, phone: bool) {
    let named = c
        .first_name
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty())
        || c.phone.as_deref().is_some_and(|n| !n.trim().is_empty());
    match (&c.id, &c.email) {
        (Some(_), _) => {}
        (None, Some(e)) if e.trim().parse::<lettre::Address>().is_err() => checks.push(
            FieldError::json(&format!("{path}.email"), "not a well-formed email address")
                .rejecting(e.as_str()),
        ),
        (None, Some(_)) => {}
        (None, None) if phone && named => {}
        (None, None) => checks.push(FieldError::json(
            path,
            "must contain a customer id or an email address",
        )),
    }
}

/// 400 unless customer `id` exists.
pub fn check_customer_exists(c: &mut AnyConnection, id: i64, path: &str) -> Result<(), ApiError> {
    let n: i64 = customers::table.find(id).count().get_result(c)?;
    if n == 0 {
        return Err(ApiError::field(
            FieldError::json(path, "no such customer").rejecting(id),
        ));
    }
    Ok(())
}

/// 400 unless user `id` is active and may see `mailbox_id`.
pub fn check_assignee(
    c: &mut AnyConnection,
    id: i64,
    mailbox_id: i64,
    path: &str,
) -> Result<(), ApiError> {
    let user = crate::models::user::find(c, id)?;
    match user {
        Some(u) if permissions::can_view_mailbox(c, &u, mailbox_id)? => Ok(()),
        _ => Err(ApiError::field(
            FieldError::json(path, "no such user with access to this mailbox").rejecting(id),
        )),
    }
}

/// The customer a reference names: `(id, email, created)`. New customers are announced
/// (`customer_created`) when `announce`.
pub fn resolve_customer(
    c: &mut AnyConnection,
    r: &CustomerRef,
    path: &str,
    at: NaiveDateTime,
    announce: bool,
) -> Result<(i64, String, bool), ApiError> {
    if let Some(id) = r.id {
        check_customer_exists(c, id, &format!("{path}.id"))?;
        let email = customer::emails_of(c, id)?
            .into_iter()
            .next()
            .unwrap_or_default();
        return Ok((id, email, false));
    }
    let first = r.first_name.clone().unwrap_or_default();
    let last = r.last_name.clone().unwrap_or_default();
    let (id, email, created) = match r.email.as_deref().map(|e| e.trim().to_lowercase()) {
        Some(email) => {
            let name = format!("{} {}", first.trim(), last.trim());
            let (id, created) = customer::find_or_create(c, &email, name.trim(), at)?;
            (id, email, created)
        }
        None => {
            let new = customer::NewCustomer {
                first_name: first.trim(),
                last_name: last.trim(),
                company: "",
                created_at: at,
                updated_at: at,
            };
            (
                customer::create_with_emails(c, &new, &[])?,
                String::new(),
                true,
            )
        }
    };
    if created && announce {
        event::record(
            c,
            EventKind::CustomerCreated,
            NewEvent {
                payload: serde_json::json!({"customer_id": id}),
                ..NewEvent::default()
            },
        )?;
    }
    Ok((id, email, created))
}

/// What writing threads needs from the app.
#[derive(Clone)]
pub struct Context {
    secrets: Secrets,
    files: FileStore,
}

impl Context {
    /// From the app's data directory.
    pub fn of(state: &AppState) -> Result<Context, ApiError> {
        Ok(Context {
            secrets: Secrets::load_or_create(&state.config.data_dir)
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            files: FileStore::new(&state.config.data_dir),
        })
    }
}

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::NotFound => ApiError::NotFound,
            ReplyError::Empty => ApiError::field(FieldError::json("text", "may not be empty")),
            ReplyError::BadAddress(a) => ApiError::field(
                FieldError::json("cc", "not a well-formed email address").rejecting(a),
            ),
            ReplyError::Database(e) => e.into(),
            ReplyError::File(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Stores files for a thread written without the outbox.
fn store_files(
    c: &mut AnyConnection,
    files: &FileStore,
    conversation_id: i64,
    thread_id: i64,
    list: &[NewFile],
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    for f in list {
        let sha = files
            .put_attachment(&f.data)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let name = crate::mail::inbound::parse::sanitize_file_name(&f.file_name, "attachment");
        attachment::create(
            c,
            &attachment::NewAttachment {
                thread_id,
                conversation_id,
                file_name: &name,
                mime_type: &f.mime_type,
                size_bytes: i64::try_from(f.data.len()).unwrap_or(i64::MAX),
                sha256: &sha,
                content_id: "",
                is_inline: false,
                created_at: at,
            },
        )?;
    }
    Ok(())
}

/// Adds a checked thread to conversation `id`; `first` marks the thread that starts a new
/// conversation (announced as `conversation_created`). Returns the thread id.
pub fn add(
    c: &mut AnyConnection,
    ctx: &Context,
    id: i64,
    t: &Checked,
    imported: bool,
    first: bool,
) -> Result<i64, ApiError> {
    let at = if imported {
        t.created_at.unwrap_or_else(now)
    } else {
        now()
    };
    let (mailbox_id, status, conv_customer): (i64, i16, Option<i64>) = conversations::table
        .find(id)
        .select((
            conversations::mailbox_id,
            conversations::status,
            conversations::customer_id,
        ))
        .first(c)?;
    let text = mail_parser::decoders::html::html_to_text(&t.html);
    let clean = crate::sanitize::clean_email_html(&t.html);
    let thread_id = match t.kind {
        ThreadType::Customer => {
            let (customer_id, email) = match &t.customer {
                Some(r) => {
                    let (cid, email, _) = resolve_customer(c, r, "customer", at, !imported)?;
                    (cid, email)
                }
                None => {
                    let cid = conv_customer.ok_or_else(|| {
                        ApiError::field(FieldError::json("customer", "may not be empty"))
                    })?;
                    (
                        cid,
                        customer::emails_of(c, cid)?
                            .into_iter()
                            .next()
                            .unwrap_or_default(),
                    )
                }
            };
            let mb_email = mailbox::inbound_settings(c, mailbox_id)?
                .map(|m| m.email)
                .unwrap_or_default();
            let to = serde_json::Value::from(vec![mb_email]).to_string();
            let cc = serde_json::Value::from(t.cc.clone()).to_string();
            let reopened = if status == ConversationStatus::Spam.as_i16() || imported {
                status
            } else {
                ConversationStatus::Active.as_i16()
            };
            let thread_id = thread::add(
                c,
                &thread::NewThread {
                    conversation_id: id,
                    thread_type: ThreadType::Customer.as_i16(),
                    status: reopened,
                    body_html: &clean,
                    body_text: &text,
                    from_email: &email,
                    to_list: &to,
                    cc_list: &cc,
                    customer_id: Some(customer_id),
                    has_attachments: !t.files.is_empty(),
                    created_at: at,
                    updated_at: at,
                    ..Default::default()
                },
            )?;
            store_files(c, &ctx.files, id, thread_id, &t.files, at)?;
            diesel::update(conversations::table.find(id))
                .set((
                    conversations::status.eq(reopened),
                    conversations::state.eq(ConversationState::Published.as_i16()),
                ))
                .execute(c)?;
            if !imported {
                event::record(
                    c,
                    if first {
                        EventKind::ConversationCreated
                    } else {
                        EventKind::CustomerReplied
                    },
                    NewEvent {
                        mailbox_id: Some(mailbox_id),
                        conversation_id: Some(id),
                        thread_id: Some(thread_id),
                        user_id: None,
                        payload: serde_json::json!({"customer_id": customer_id, "api": true}),
                    },
                )?;
            }
            thread_id
        }
        ThreadType::Message if !imported => {
            let user = t
                .user
                .ok_or_else(|| ApiError::Internal("thread without user".into()))?;
            let saved = reply::reply(
                c,
                &SendContext {
                    secrets: &ctx.secrets,
                    files: &ctx.files,
                    undo_seconds: 0,
                    hooks: None,
                },
                &ReplyInput {
                    conversation_id: id,
                    user_id: user,
                    body_html: t.html.clone(),
                    cc: t.cc.clone(),
                    bcc: t.bcc.clone(),
                    status_after: None,
                    files: t.files.clone(),
                },
            )?;
            saved.thread_id
        }
        ThreadType::Note if !imported => {
            let user = t
                .user
                .ok_or_else(|| ApiError::Internal("thread without user".into()))?;
            let thread_id = reply::note(c, id, user, &t.html)?;
            store_files(c, &ctx.files, id, thread_id, &t.files, at)?;
            thread_id
        }
        kind => {
            // Imported replies and notes: stored with their date, never sent or announced.
            let cc = serde_json::Value::from(t.cc.clone()).to_string();
            let bcc = serde_json::Value::from(t.bcc.clone()).to_string();
            let thread_id = thread::add(
                c,
                &thread::NewThread {
                    conversation_id: id,
                    thread_type: kind.as_i16(),
                    status,
                    body_html: &clean,
                    body_text: &text,
                    cc_list: &cc,
                    bcc_list: &bcc,
                    created_by_user_id: t.user,
                    has_attachments: !t.files.is_empty(),
                    created_at: at,
                    updated_at: at,
                    ..Default::default()
                },
            )?;
            store_files(c, &ctx.files, id, thread_id, &t.files, at)?;
            thread_id
        }
    };
    Ok(thread_id)
}

/// Fills in the writing user of agent threads: the key's user unless another is named
/// (only an admin's key may write as someone else).
pub fn settle_user(
    c: &mut AnyConnection,
    me: &crate::models::user::User,
    t: &mut Checked,
    mailbox_id: i64,
) -> Result<(), ApiError> {
    if t.kind == ThreadType::Customer {
        return Ok(());
    }
    let user = t.user.unwrap_or(me.id);
    if user != me.id {
        if !me.is_admin() {
            return Err(ApiError::Forbidden(
                "only an admin's key may write as another user".into(),
            ));
        }
        let exists: i64 = users::table.find(user).count().get_result(c)?;
        if exists == 0 {
            return Err(ApiError::field(
                FieldError::json("user", "no such user").rejecting(user),
            ));
        }
        check_assignee(c, user, mailbox_id, "user")?;
    }
    t.user = Some(user);
    Ok(())
}

/// `POST /api/conversations/{conversationId}/threads`.
pub async fn create(
    state: web::Data<AppState>,
    me: ApiUser,
    id: web::Path<i64>,
    body: ApiJson<CreateThread>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let b = body.0;
    let mut checks = Checks::default();
    let mut list = check_all(&mut checks, "", std::slice::from_ref(&b.thread));
    let status = match b.status.as_deref() {
        None => None,
        Some(s) => match status_named(s).filter(|s| *s != ConversationStatus::Spam) {
            Some(st) => Some(st),
            None => {
                checks.push(
                    FieldError::json("status", "")
                        .one_of(&STATUSES[..3])
                        .rejecting(s),
                );
                None
            }
        },
    };
    match b.state.as_deref() {
        None | Some("published") => {}
        Some(other) => checks.push(
            FieldError::json("state", "")
                .one_of(&["published"])
                .rejecting(other),
        ),
    }
    checks.finish()?;
    let Some(mut t) = list.pop() else {
        return Err(ApiError::field(FieldError::json(
            "type",
            "may not be empty",
        )));
    };
    let ctx = Context::of(&state)?;
    let thread_id = run(&state.pool, move |c| {
        let (row, access) = visible(c, &me.user, id)?;
        require_reply(access)?;
        settle_user(c, &me.user, &mut t, row.mailbox_id)?;
        let thread_id = add(c, &ctx, id, &t, b.imported, false)?;
        if let Some(st) = status {
            let closed_at = (st == ConversationStatus::Closed).then(now);
            diesel::update(conversations::table.find(id))
                .set((
                    conversations::status.eq(st.as_i16()),
                    conversations::closed_at.eq(closed_at),
                ))
                .execute(c)?;
        }
        Ok(thread_id)
    })
    .await?;
    Ok(created(thread_id))
}
