//! Settings → General (admins): company name, app URL, default language and time zone.
//!
//! The company name and defaults live in the database and apply at once (each process
//! keeps a copy, see `system_settings::general`). The app URL lives in the config file
//! (`app_url`), where admins and the installer keep it; a change is written there and
//! used after a restart, which the page says.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::i18n;
use crate::models::system_settings::{self, General};
use crate::web::page::{render_status, see_other};
use crate::web::profile::{TIMEZONES, known_timezone};
use crate::web::session::{AdminUser, CsrfForm};

fn page(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    general: &General,
    app_url: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("general", general);
    ctx.insert("app_url", app_url);
    ctx.insert("running_url", &state.config.public_url());
    ctx.insert(
        "app_url_from_env",
        &std::env::var(crate::config::env_var_for("app_url")).is_ok(),
    );
    ctx.insert("timezones", TIMEZONES);
    ctx.insert("error", &error);
    render_status(
        state,
        req,
        Some(&admin.0),
        "settings/general.html",
        ctx,
        status,
    )
}

/// The app URL written in the config file (what the next start uses).
fn configured_app_url(state: &AppState) -> String {
    crate::Config::load(&state.config.data_dir)
        .map(|c| c.public_url())
        .unwrap_or_else(|_| state.config.public_url())
}

/// `GET /settings/general`.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    let general = crate::db::run(&state.pool, |c| Ok(system_settings::load_general(c)?)).await?;
    let app_url = configured_app_url(&state);
    page(
        &state,
        &req,
        &admin,
        &general,
        &app_url,
        None,
        StatusCode::OK,
    )
}

/// The form.
#[derive(Debug, Deserialize)]
pub struct GeneralForm {
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    app_url: String,
    #[serde(default)]
    default_language: String,
    #[serde(default)]
    timezone: String,
}

/// Whether `url` is an absolute http(s) address with a host and nothing odd in it.
fn valid_app_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split('/').next().unwrap_or_default();
            !host.is_empty()
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && !url.contains(['"', '<', '>', '\\', '?', '#'])
        }
        None => false,
    }
}

/// `POST /settings/general`.
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    CsrfForm(form): CsrfForm<GeneralForm>,
) -> Result<HttpResponse, AppError> {
    let lang = i18n::supported(&admin.0.user.locale);
    let general = General {
        company_name: form.company_name.trim().to_string(),
        default_language: i18n::supported(form.default_language.trim()).to_string(),
        timezone: known_timezone(form.timezone.trim()).to_string(),
    };
    let app_url = form.app_url.trim().trim_end_matches('/').to_string();
    let error = if general.company_name.chars().count() > 100 {
        Some(i18n::t(lang, "general_error_company_too_long"))
    } else if !valid_app_url(&app_url) {
        Some(format!(
            "{}: {app_url}",
            i18n::t(lang, "general_error_app_url")
        ))
    } else {
        None
    };
    if let Some(error) = error {
        return page(
            &state,
            &req,
            &admin,
            &general,
            &app_url,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let to_save = general.clone();
    crate::db::run(&state.pool, move |c| {
        Ok(system_settings::save_general(
            c,
            &to_save,
            crate::db::now(),
        )?)
    })
    .await?;
    if app_url == configured_app_url(&state) {
        return Ok(see_other("/settings/general?done=saved"));
    }
    crate::installer::set_app_url(&state.config.data_dir, &app_url)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(see_other("/settings/general?done=app_url_restart"))
}

#[cfg(test)]
mod tests {
    use super::valid_app_url;

    #[test]
    fn app_urls_must_be_plain_http_addresses() {
        assert!(valid_app_url("https://help.example.com"));
        assert!(valid_app_url("http://127.0.0.1:8080/desk"));
        for bad in [
            "",
            "help.example.com",
            "ftp://x",
            "https://",
            "https://a b",
            "javascript:alert(1)",
            "https://x/\"><script>",
            "https://x/?q=1",
        ] {
            assert!(!valid_app_url(bad), "{bad}");
        }
    }
}
