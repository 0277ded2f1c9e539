//! Customers: the list with search, a profile with conversation history, editing, and
//! merging two customers into one.
//!
//! Admins see every customer. Agents see the customers who have a conversation in a
//! mailbox they may see (so an agent of one team never browses another team's customers),
//! and may edit and merge those; merging needs both customers visible.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::i18n;
use crate::models::customer::{self, CustomerChanges, CustomerError};
use crate::models::mailbox;
use crate::permissions;
use crate::web::page::{render_status, see_other};
use crate::web::profile::looks_like_email;
use crate::web::session::{CsrfForm, CurrentUser};

/// Customers a list page shows at once.
const PAGE: i64 = 50;

/// The mailboxes whose customers `me` may see: None for admins (all).
fn scope(
    conn: &mut crate::db::AnyConnection,
    me: &CurrentUser,
) -> Result<Option<Vec<i64>>, AppError> {
    if me.user.is_admin() {
        return Ok(None);
    }
    Ok(Some(
        permissions::visible_mailboxes(conn, &me.user)?
            .into_iter()
            .map(|m| m.id)
            .collect(),
    ))
}

/// `GET /customers` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    before: Option<i64>,
}

/// `GET /customers?q=…&before=…`: newest first, 50 at a time.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let ListQuery { q, before } = query.into_inner();
    let viewer = me.clone();
    let text = q.clone();
    let found = crate::db::run(&state.pool, move |c| {
        let boxes = scope(c, &viewer)?;
        Ok(customer::search(c, &text, boxes.as_deref(), before, PAGE)?)
    })
    .await?;
    let next = (found.len() as i64 == PAGE)
        .then(|| found.last().map(|c| c.id))
        .flatten();
    let mut ctx = tera::Context::new();
    ctx.insert("customers", &found);
    ctx.insert("q", &q);
    ctx.insert("next", &next);
    render_status(
        &state,
        &req,
        Some(&me),
        "customers/list.html",
        ctx,
        StatusCode::OK,
    )
}

/// Loads what the profile page shows; 404 when `me` may not see the customer.
async fn profile_page(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    id: i64,
    form: Option<(CustomerChanges, String)>,
) -> Result<HttpResponse, AppError> {
    let viewer = me.clone();
    let (profile, history, mailboxes) = crate::db::run(&state.pool, move |c| {
        let boxes = scope(c, &viewer)?;
        if !customer::visible(c, id, boxes.as_deref())? {
            return Err(AppError::NotFound);
        }
        let profile = customer::profile(c, id)?.ok_or(AppError::NotFound)?;
        let history = customer::history(c, id, boxes.as_deref(), 100)?;
        let names: Vec<(i64, String)> = mailbox::list(c)?
            .into_iter()
            .map(|m| (m.id, m.name))
            .collect();
        Ok((profile, history, names))
    })
    .await?;
    let mut ctx = tera::Context::new();
    let status = match &form {
        Some((changes, error)) => {
            ctx.insert("error", error);
            ctx.insert("form_emails", &changes.emails.join("\n"));
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => {
            ctx.insert("form_emails", &profile.emails.join("\n"));
            StatusCode::OK
        }
    };
    ctx.insert("customer", &profile);
    let rows: Vec<serde_json::Value> = history
        .into_iter()
        .map(|h| {
            let name = mailboxes
                .iter()
                .find(|(id, _)| *id == h.mailbox_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            serde_json::json!({
                "id": h.id, "number": h.number, "subject": h.subject, "status": h.status,
                "mailbox_name": name,
                "last_reply_at": h.last_reply_at.format("%Y-%m-%d %H:%M").to_string(),
            })
        })
        .collect();
    ctx.insert("history", &rows);
    render_status(state, req, Some(me), "customers/profile.html", ctx, status)
}

/// `GET /customers/{id}`.
pub async fn profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    profile_page(&state, &req, &me, id.into_inner(), None).await
}

/// The edit form.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    job_title: String,
    #[serde(default)]
    notes: String,
    /// One address per line (or separated by commas).
    #[serde(default)]
    emails: String,
}

/// The changes a form asks for, and what is wrong with them (field limits as the columns
/// allow, at least one well-formed address), if anything.
fn check(form: EditForm, lang: &str) -> (CustomerChanges, Option<String>) {
    let mut emails: Vec<String> = Vec::new();
    for e in form
        .emails
        .split(['\n', ',', ';'])
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
    {
        if !emails.contains(&e) {
            emails.push(e);
        }
    }
    let changes = CustomerChanges {
        first_name: form.first_name.trim().to_string(),
        last_name: form.last_name.trim().to_string(),
        company: form.company.trim().to_string(),
        job_title: form.job_title.trim().to_string(),
        notes: form.notes,
        emails,
    };
    let too_long = [
        &changes.first_name,
        &changes.last_name,
        &changes.company,
        &changes.job_title,
    ]
    .iter()
    .any(|f| f.chars().count() > 255)
        || changes.notes.len() > 65_000;
    let error = if too_long {
        Some(i18n::t(lang, "customers_error_too_long"))
    } else if changes.emails.is_empty() {
        Some(i18n::t(lang, "customers_error_no_email"))
    } else {
        changes
            .emails
            .iter()
            .find(|e| !looks_like_email(e) || e.len() > 255)
            .map(|bad| format!("{}: {bad}", i18n::t(lang, "customers_error_bad_email")))
    };
    (changes, error)
}

/// `POST /customers/{id}`: saves the fields and the address list.
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let lang = i18n::supported(&me.user.locale);
    let (changes, error) = check(form, lang);
    if let Some(error) = error {
        return profile_page(&state, &req, &me, id, Some((changes, error))).await;
    }
    let viewer = me.clone();
    let to_save = changes.clone();
    let saved = crate::db::run(&state.pool, move |c| {
        let boxes = scope(c, &viewer)?;
        if !customer::visible(c, id, boxes.as_deref())? {
            return Err(AppError::NotFound);
        }
        Ok(customer::update(c, id, &to_save))
    })
    .await?;
    match saved {
        Ok(()) => Ok(see_other(&format!("/customers/{id}?done=saved"))),
        Err(CustomerError::NotFound) => Err(AppError::NotFound),
        Err(CustomerError::EmailTaken(email)) => {
            let msg = format!("{}: {email}", i18n::t(lang, "customers_error_email_taken"));
            profile_page(&state, &req, &me, id, Some((changes, msg))).await
        }
        Err(CustomerError::Db(e)) => Err(e.into()),
    }
}

/// The merge form: the other customer by address or id.
#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    other: String,
}

/// `POST /customers/{id}/merge`: the other customer's addresses, conversations and details
/// move into this one, and the other is removed.
pub async fn merge(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    id: web::Path<i64>,
    CsrfForm(form): CsrfForm<MergeForm>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let lang = i18n::supported(&me.user.locale);
    let other = form.other.trim().to_string();
    let viewer = me.clone();
    let outcome = crate::db::run(&state.pool, move |c| {
        let boxes = scope(c, &viewer)?;
        if !customer::visible(c, id, boxes.as_deref())? {
            return Err(AppError::NotFound);
        }
        let other_id = match other.parse::<i64>() {
            Ok(n) => customer::find(c, n)?.map(|f| f.id),
            Err(_) => customer::find_by_email(c, &other)?.map(|f| f.id),
        };
        let Some(other_id) = other_id.filter(|o| *o != id) else {
            return Ok(Some("customers_error_merge_unknown"));
        };
        if !customer::visible(c, other_id, boxes.as_deref())? {
            return Ok(Some("customers_error_merge_unknown"));
        }
        match customer::merge(c, id, other_id) {
            Ok(()) => Ok(None),
            Err(CustomerError::NotFound | CustomerError::EmailTaken(_)) => {
                Ok(Some("customers_error_merge_unknown"))
            }
            Err(CustomerError::Db(e)) => Err(e.into()),
        }
    })
    .await?;
    match outcome {
        None => Ok(see_other(&format!("/customers/{id}?done=merged"))),
        Some(key) => {
            let mut ctx_error = i18n::t(lang, key);
            ctx_error.push_str(&format!(": {}", form.other.trim()));
            let current = crate::db::run(&state.pool, move |c| {
                customer::profile(c, id)?.ok_or(AppError::NotFound)
            })
            .await?;
            let changes = CustomerChanges {
                first_name: current.first_name,
                last_name: current.last_name,
                company: current.company,
                job_title: current.job_title,
                notes: current.notes,
                emails: current.emails,
            };
            profile_page(&state, &req, &me, id, Some((changes, ctx_error))).await
        }
    }
}
