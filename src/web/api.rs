//! Settings → API keys (admins): create a key acting as a chosen user (shown once, stored
//! hashed) and revoke keys. The API itself lives in [`crate::api`].

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::api::keys::{self, DEFAULT_RATE_PER_MINUTE};
use crate::error::AppError;
use crate::models::activity::{self, Activity};
use crate::models::user;
use crate::web::page::{render_status, see_other};
use crate::web::session::{AdminUser, CsrfForm, client_ip};

/// Most calls per minute a key may be given.
const RATE_MAX: i32 = 100_000;

/// Renders the page with the keys and the users a key may act as.
async fn page(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    new_key: Option<String>,
    error: Option<&'static str>,
) -> Result<HttpResponse, AppError> {
    let (list, users) = crate::db::run(&state.pool, |c| {
        let users: Vec<user::User> = user::list(c)?
            .into_iter()
            .filter(|u| u.is_active())
            .collect();
        Ok((keys::list(c)?, users))
    })
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("keys", &list);
    ctx.insert("users", &users);
    ctx.insert("new_key", &new_key);
    ctx.insert("error", &error);
    ctx.insert("default_rate", &DEFAULT_RATE_PER_MINUTE);
    let status = if error.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    render_status(
        state,
        req,
        Some(&admin.0),
        "settings/api_keys.html",
        ctx,
        status,
    )
}

/// `GET /settings/api-keys`.
pub async fn keys_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    page(&state, &req, &admin, None, None).await
}

/// The new-key form.
#[derive(Debug, Deserialize)]
pub struct KeyForm {
    name: String,
    user_id: String,
    rate: String,
}

/// `POST /settings/api-keys`: the page again, showing the new key once.
pub async fn create_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req);
    let admin_id = admin.0.user.id;
    let name = form.name.trim().to_string();
    let rate = form
        .rate
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|r| (1..=RATE_MAX).contains(r));
    let user_id = form.user_id.trim().parse::<i64>().ok();
    let outcome = crate::db::run(&state.pool, move |c| {
        let target = match user_id {
            Some(id) => user::find(c, id)?.filter(|u| u.is_active()),
            None => None,
        };
        let (target, rate) = match (target, rate) {
            _ if name.is_empty() || name.chars().count() > 100 => {
                return Ok(Err("api_keys_bad_name"));
            }
            (None, _) => return Ok(Err("api_keys_bad_user")),
            (_, None) => return Ok(Err("api_keys_bad_rate")),
            (Some(t), Some(r)) => (t, r),
        };
        let now = crate::db::now();
        let (id, key) = keys::create(c, &name, target.id, rate, now)?;
        activity::record(
            c,
            &Activity {
                user_id: Some(admin_id),
                action: "api_key_created",
                subject_type: "api_key",
                subject_id: Some(id),
                details: &target.email,
                ip: &ip,
            },
            now,
        )?;
        Ok(Ok(key))
    })
    .await?;
    match outcome {
        Ok(key) => page(&state, &req, &admin, Some(key), None).await,
        Err(error) => page(&state, &req, &admin, None, Some(error)).await,
    }
}

/// `POST /settings/api-keys/{id}/revoke`.
pub async fn revoke_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    CsrfForm(_): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let ip = client_ip(&req);
    let admin_id = admin.0.user.id;
    let gone = crate::db::run(&state.pool, move |c| {
        let gone = keys::revoke(c, id)?;
        if gone {
            activity::record(
                c,
                &Activity {
                    user_id: Some(admin_id),
                    action: "api_key_revoked",
                    subject_type: "api_key",
                    subject_id: Some(id),
                    ip: &ip,
                    ..Activity::default()
                },
                crate::db::now(),
            )?;
        }
        Ok(gone)
    })
    .await?;
    if !gone {
        return Err(AppError::NotFound);
    }
    Ok(see_other("/settings/api-keys?done=api_key_revoked"))
}
