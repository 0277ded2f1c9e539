//! Admin settings: the system SMTP server (for reset and invitation mail) and the
//! activity log.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::error::AppError;
use crate::models::activity::{self, Activity};
use crate::models::system_settings::{self, SmtpSecurity, SmtpSettings};
use crate::web::page::{render, see_other};
use crate::web::session::{AdminUser, CsrfForm, client_ip};

/// `GET /settings/mail`.
pub async fn mail_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    let smtp = crate::db::run(&state.pool, |c| Ok(system_settings::load_smtp(c)?)).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("smtp", &smtp);
    render(&state, &req, Some(&admin.0), "settings/mail.html", ctx)
}

/// The SMTP form; an empty password keeps the stored one.
#[derive(Debug, Deserialize)]
pub struct MailForm {
    host: String,
    port: String,
    security: String,
    username: String,
    password: String,
    from_email: String,
    from_name: String,
}

/// `POST /settings/mail`.
pub async fn save_mail(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    CsrfForm(form): CsrfForm<MailForm>,
) -> Result<HttpResponse, AppError> {
    let port: u16 =
        form.port.trim().parse().map_err(|_| {
            AppError::BadRequest(format!("port must be a number, not {:?}", form.port))
        })?;
    let admin_id = admin.0.user.id;
    let ip = client_ip(&req);
    crate::db::run(&state.pool, move |c| {
        let old = system_settings::load_smtp(c)?;
        let new = SmtpSettings {
            host: form.host.trim().to_string(),
            port,
            security: SmtpSecurity::parse(&form.security),
            username: form.username.trim().to_string(),
            password: if form.password.is_empty() {
                old.password
            } else {
                form.password
            },
            from_email: form.from_email.trim().to_string(),
            from_name: form.from_name.trim().to_string(),
        };
        let now = crate::db::now();
        system_settings::save_smtp(c, &new, now)?;
        activity::record(
            c,
            &Activity {
                user_id: Some(admin_id),
                action: "settings_changed",
                subject_type: "settings",
                details: "system_smtp",
                ip: &ip,
                ..Activity::default()
            },
            now,
        )?;
        Ok(())
    })
    .await?;
    Ok(see_other("/settings/mail?done=saved"))
}

/// `GET /activity`: the latest 200 entries.
pub async fn activity_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    let entries = crate::db::run(&state.pool, |c| Ok(activity::recent(c, 200)?)).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("entries", &entries);
    render(&state, &req, Some(&admin.0), "settings/activity.html", ctx)
}
