//! The JSON API (session-authenticated for now): who am I, and the mailboxes I may see.
//! Every call answers 401 without a session and 404 for a mailbox the caller may not see.

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::error::AppError;
use crate::models::mailbox;
use crate::permissions;
use crate::web::home::views;
use crate::web::session::CurrentUser;

/// `GET /api/me`.
pub async fn me(me: CurrentUser) -> HttpResponse {
    let u = &me.user;
    HttpResponse::Ok().json(serde_json::json!({
        "id": u.id,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "email": u.email,
        "role": if u.is_admin() { "admin" } else { "agent" },
        "locale": u.locale,
        "timezone": u.timezone,
    }))
}

/// `GET /api/mailboxes`.
pub async fn mailboxes(
    state: web::Data<AppState>,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let boxes = crate::db::run(&state.pool, move |c| {
        Ok(permissions::visible_mailboxes(c, &me.user)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(views(boxes)))
}

/// `GET /api/mailboxes/{id}`.
pub async fn mailbox(
    state: web::Data<AppState>,
    me: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let found = crate::db::run(&state.pool, move |c| {
        if !permissions::can_view_mailbox(c, &me.user, id)? {
            return Err(AppError::NotFound);
        }
        Ok(mailbox::list(c)?.into_iter().find(|m| m.id == id))
    })
    .await?;
    let found = found.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(views(vec![found]).pop()))
}
