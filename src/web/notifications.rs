//! The user's own notifications: the unread list, marking them read, and the per-kind
//! email / in-app preferences saved from the profile page.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::error::AppError;
use crate::i18n;
use crate::models::notification::{self, Kind};
use crate::web::page::{render, see_other};
use crate::web::session::{CsrfForm, CurrentUser};

/// One row of the list.
#[derive(Debug, serde::Serialize)]
struct Row {
    id: i64,
    headline: String,
    summary: String,
    created_at: String,
    number: Option<i64>,
    subject: Option<String>,
    mailbox_id: Option<i64>,
}

/// `GET /notifications`: the unread in-app notifications, newest first.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let id = me.user.id;
    let rows = crate::db::run(&state.pool, move |c| Ok(notification::unread(c, id)?)).await?;
    let lang = i18n::supported(&me.user.locale);
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|n| Row {
            id: n.id,
            headline: i18n::t(lang, &format!("notify_head_{}", n.kind)),
            summary: n.summary,
            created_at: n.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            number: n.number,
            subject: n.subject,
            mailbox_id: n.mailbox_id,
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("notifications", &rows);
    render(&state, &req, Some(&me), "notifications.html", ctx)
}

/// `POST /notifications/read`: marks every notification of the user read.
pub async fn mark_all_read(
    state: web::Data<AppState>,
    me: CurrentUser,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = me.user.id;
    crate::db::run(&state.pool, move |c| {
        Ok(notification::mark_read(c, id, None, crate::db::now())?)
    })
    .await?;
    Ok(see_other("/notifications?done=notify_read"))
}

/// `POST /notifications/{id}/read`: marks one read; 404 when it is not the user's.
pub async fn mark_read(
    state: web::Data<AppState>,
    me: CurrentUser,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let user_id = me.user.id;
    let id = path.into_inner();
    let changed = crate::db::run(&state.pool, move |c| {
        Ok(notification::mark_read(
            c,
            user_id,
            Some(id),
            crate::db::now(),
        )?)
    })
    .await?;
    if changed == 0 {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/notifications?done=notify_read"))
}

/// `POST /profile/notifications`: the checkboxes `email_<kind>` and `in_app_<kind>`; a
/// box not sent is off.
pub async fn save_prefs(
    state: web::Data<AppState>,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let on = |name: String| form.iter().any(|(k, v)| *k == name && !v.is_empty());
    let chosen: Vec<(Kind, bool, bool)> = Kind::ALL
        .into_iter()
        .map(|k| {
            (
                k,
                on(format!("email_{}", k.as_str())),
                on(format!("in_app_{}", k.as_str())),
            )
        })
        .collect();
    let id = me.user.id;
    crate::db::run(&state.pool, move |c| {
        Ok(notification::save_prefs(c, id, &chosen, crate::db::now())?)
    })
    .await?;
    Ok(see_other("/profile?done=notify_saved"))
}
