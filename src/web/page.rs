//! Rendering a page: the template plus what every page needs (the language's messages as
//! `t`, the CSRF token, the logged-in user for the top bar).

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse};

use crate::AppState;
use crate::assets::describe_tera_error;
use crate::error::AppError;
use crate::i18n;
use crate::models::system_settings;
use crate::web::session::{CurrentUser, page_csrf};

/// The top bar's view of the logged-in user.
#[derive(Debug, serde::Serialize)]
struct Me {
    id: i64,
    name: String,
    email: String,
    initials: String,
    is_admin: bool,
    unread_notifications: i64,
}

/// The language for a page: the user's own, else the browser's, else the helpdesk's
/// default (Settings → General).
pub fn language(req: &HttpRequest, user: Option<&CurrentUser>) -> &'static str {
    match user {
        Some(u) => i18n::supported(&u.user.locale),
        None => i18n::best_accept_language(
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
        )
        .unwrap_or_else(|| i18n::supported(&system_settings::general().default_language)),
    }
}

/// Renders `template` with `ctx` plus the common values, with `status`.
pub fn render_status(
    state: &AppState,
    req: &HttpRequest,
    user: Option<&CurrentUser>,
    template: &str,
    mut ctx: tera::Context,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let lang = language(req, user);
    let (csrf, cookie): (String, Option<Cookie<'static>>) = page_csrf(req, user)?;
    ctx.insert("lang", lang);
    ctx.insert("company_name", &system_settings::general().company_name);
    let catalog = i18n::catalog(lang);
    match state.catalog_use.keys(template) {
        Some(keys) => {
            let used: std::collections::BTreeMap<&str, &str> = keys
                .iter()
                .filter_map(|k| catalog.get_key_value(k))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            ctx.insert("t", &used);
        }
        None => ctx.insert("t", catalog),
    }
    ctx.insert("csrf_token", &csrf);
    ctx.insert("languages", i18n::LANGUAGES);
    // `?done=saved` after a redirect shows the catalog's `done_saved` notice.
    if let Some(notice) = req
        .query_string()
        .split('&')
        .find_map(|p| p.strip_prefix("done="))
        .and_then(|key| i18n::catalog(lang).get(&format!("done_{key}")))
    {
        ctx.insert("notice", notice);
    }
    if let Some(u) = user {
        // Module slots of every signed-in page (issue 7). Without a module handling them
        // this costs nothing; a module's answer is bounded by the host's call timeout.
        let none = serde_json::json!({});
        ctx.insert(
            "slot_main_menu",
            &state.hooks.render_slot("main_menu", &none),
        );
        ctx.insert(
            "slot_settings_menu",
            &state.hooks.render_slot("settings_menu", &none),
        );
        ctx.insert(
            "me",
            &Me {
                id: u.user.id,
                name: u.user.full_name(),
                email: u.user.email.clone(),
                initials: u.user.initials(),
                is_admin: u.user.is_admin(),
                unread_notifications: u.unread_notifications,
            },
        );
    }
    let html = state
        .templates
        .render(template, &ctx)
        .map_err(|e| AppError::Internal(describe_tera_error(&e)))?;
    let mut resp = HttpResponse::build(status);
    resp.content_type("text/html; charset=utf-8");
    if let Some(c) = cookie {
        resp.cookie(c);
    }
    Ok(resp.body(html))
}

/// Renders `template` with `ctx` plus the common values (200).
pub fn render(
    state: &AppState,
    req: &HttpRequest,
    user: Option<&CurrentUser>,
    template: &str,
    ctx: tera::Context,
) -> Result<HttpResponse, AppError> {
    render_status(
        state,
        req,
        user,
        template,
        ctx,
        actix_web::http::StatusCode::OK,
    )
}

/// A 303 to `location` (after a successful POST).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}
