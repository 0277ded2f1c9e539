//! Admin pages for accounts: list, invite, role and mailbox access, disable, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::db::types::{MailboxAccess, UserRole, UserStatus, UserTokenKind};
use crate::error::AppError;
use crate::i18n;
use crate::models::activity::{self, Activity};
use crate::models::{mailbox, mailbox_user, system_settings, user, user_token};
use crate::system_mail;
use crate::web::account::{EmptyForm, link_mail};
use crate::web::page::{render_status, see_other};
use crate::web::profile::looks_like_email;
use crate::web::session::{AdminUser, CsrfForm, client_ip};

fn list_page(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    users: Vec<user::User>,
    mail_configured: bool,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("users", &users);
    ctx.insert("mail_configured", &mail_configured);
    ctx.insert("error", &error);
    render_status(state, req, Some(&admin.0), "users/list.html", ctx, status)
}

/// `GET /users`.
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
) -> Result<HttpResponse, AppError> {
    let (users, smtp) = crate::db::run(&state.pool, |c| {
        Ok((user::list(c)?, system_settings::load_smtp(c)?))
    })
    .await?;
    list_page(
        &state,
        &req,
        &admin,
        users,
        smtp.is_configured(),
        None,
        StatusCode::OK,
    )
}

/// The invitation form.
#[derive(Debug, Deserialize)]
pub struct InviteForm {
    email: String,
    name: String,
    role: String,
}

/// `POST /users/invite`: creates the account without a password and mails a link that
/// lets the new user choose one.
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let lang = i18n::supported(&admin.0.user.locale);
    let email = form.email.trim().to_lowercase();
    let role = if form.role == "admin" {
        UserRole::Admin
    } else {
        UserRole::Agent
    };
    let app_url = state.config.public_url();
    let templates = state.templates.clone();
    let admin_id = admin.0.user.id;
    // New accounts start with the helpdesk's language and time zone (Settings → General).
    let defaults = system_settings::general();
    let new_locale = i18n::supported(&defaults.default_language);
    let ip = client_ip(&req);
    let valid = looks_like_email(&email) && !form.name.trim().is_empty();
    let problem = crate::db::run(&state.pool, move |conn| {
        let smtp = system_settings::load_smtp(conn)?;
        if !smtp.is_configured() {
            return Ok(Some("invite_needs_mail".to_string()));
        }
        if !valid {
            return Ok(Some("invite_invalid".to_string()));
        }
        if user::find_by_email(conn, &email)?.is_some() {
            return Ok(Some("email_taken".to_string()));
        }
        let now = crate::db::now();
        let (first, last) = user::split_name(&form.name);
        let (id, secret) = crate::db::dialect::write_transaction(&mut *conn, |c| {
            let id = user::create(
                c,
                &user::NewUser {
                    locale: new_locale,
                    timezone: &defaults.timezone,
                    ..user::NewUser::active(&first, &last, &email, "", role, now)
                },
            )?;
            let secret = user_token::create(c, id, UserTokenKind::Invite, now)?;
            activity::record(
                c,
                &Activity {
                    user_id: Some(admin_id),
                    action: "user_invited",
                    subject_type: "user",
                    subject_id: Some(id),
                    details: &email,
                    ip: &ip,
                },
                now,
            )?;
            Ok::<_, AppError>((id, secret))
        })?;
        let mail = link_mail(
            &templates,
            new_locale,
            "emails/invite.txt",
            "mail_invite_subject",
            &email,
            &format!("{app_url}/invite/{secret}"),
            &form.name,
        )?;
        Ok(system_mail::send(&smtp, &mail).err().map(|e| {
            tracing::error!(user.id = id, error = %e, "invitation mail not sent");
            format!("invite_mail_failed:{e}")
        }))
    })
    .await?;
    match problem {
        None => Ok(see_other("/users?done=invited")),
        Some(key) => {
            let message = match key.split_once(':') {
                Some((k, detail)) => format!("{} {detail}", i18n::t(lang, k)),
                None => i18n::t(lang, &key),
            };
            let (users, smtp) = crate::db::run(&state.pool, |c| {
                Ok((user::list(c)?, system_settings::load_smtp(c)?))
            })
            .await?;
            list_page(
                &state,
                &req,
                &admin,
                users,
                smtp.is_configured(),
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// One row of the access table on the user page.
#[derive(Debug, serde::Serialize)]
struct AccessRow {
    mailbox_id: i64,
    name: String,
    email: String,
    access: &'static str,
}

fn access_name(a: Option<MailboxAccess>) -> &'static str {
    match a {
        None => "none",
        Some(MailboxAccess::View) => "view",
        Some(MailboxAccess::Reply) => "reply",
        Some(MailboxAccess::Manage) => "manage",
    }
}

fn parse_access(s: &str) -> Option<MailboxAccess> {
    match s {
        "view" => Some(MailboxAccess::View),
        "reply" => Some(MailboxAccess::Reply),
        "manage" => Some(MailboxAccess::Manage),
        _ => None,
    }
}

/// `GET /users/{id}`: role, status and per-mailbox access.
pub async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (target, rows) = crate::db::run(&state.pool, move |c| {
        let target = user::find(c, id)?
            .filter(|u| u.status() != Some(UserStatus::Deleted))
            .ok_or(AppError::NotFound)?;
        let grants = mailbox_user::grants_of(c, id)?;
        let rows: Vec<AccessRow> = mailbox::list(c)?
            .into_iter()
            .map(|m| AccessRow {
                access: access_name(
                    grants
                        .iter()
                        .find(|(mb, _)| *mb == m.id)
                        .and_then(|(_, a)| MailboxAccess::from_i16(*a)),
                ),
                mailbox_id: m.id,
                name: m.name,
                email: m.email,
            })
            .collect();
        Ok((target, rows))
    })
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("user", &target);
    ctx.insert("rows", &rows);
    ctx.insert("is_self", &(target.id == admin.0.user.id));
    render_status(
        &state,
        &req,
        Some(&admin.0),
        "users/edit.html",
        ctx,
        StatusCode::OK,
    )
}

/// `POST /users/{id}`: role (`role=admin|agent`) and access (`access_<mailbox id>=none|view|reply|manage`).
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let role = match fields
        .iter()
        .find(|(k, _)| k == "role")
        .map(|(_, v)| v.as_str())
    {
        Some("admin") => UserRole::Admin,
        _ => UserRole::Agent,
    };
    let grants: Vec<(i64, MailboxAccess)> = fields
        .iter()
        .filter_map(|(k, v)| {
            let mailbox_id = k.strip_prefix("access_")?.parse().ok()?;
            Some((mailbox_id, parse_access(v)?))
        })
        .collect();
    let admin_id = admin.0.user.id;
    let ip = client_ip(&req);
    crate::db::run(&state.pool, move |c| {
        crate::db::dialect::write_transaction(&mut *c, |c| {
            let target = user::find(c, id)?
                .filter(|u| u.status() != Some(UserStatus::Deleted))
                .ok_or(AppError::NotFound)?;
            if target.is_admin() && role != UserRole::Admin && target.id == admin_id {
                return Err(AppError::BadRequest(
                    "you cannot remove your own admin role".into(),
                ));
            }
            let now = crate::db::now();
            let known: Vec<i64> = mailbox::list(c)?.into_iter().map(|m| m.id).collect();
            let grants: Vec<_> = grants
                .into_iter()
                .filter(|(m, _)| known.contains(m))
                .collect();
            user::set_role(c, id, role, now)?;
            mailbox_user::replace_grants(c, id, &grants, now)?;
            let details = format!(
                "role={}; access={}",
                if role == UserRole::Admin {
                    "admin"
                } else {
                    "agent"
                },
                grants
                    .iter()
                    .map(|(m, a)| format!("{m}:{}", access_name(Some(*a))))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            activity::record(
                c,
                &Activity {
                    user_id: Some(admin_id),
                    action: "user_changed",
                    subject_type: "user",
                    subject_id: Some(id),
                    details: &details,
                    ip: &ip,
                },
                now,
            )?;
            Ok(())
        })
    })
    .await?;
    Ok(see_other(&format!("/users/{id}?done=saved")))
}

/// What the status buttons on the user page do.
#[derive(Debug, Clone, Copy)]
enum StatusChange {
    Disable,
    Enable,
    Delete,
}

async fn change_status(
    state: &AppState,
    req: &HttpRequest,
    admin: &AdminUser,
    id: i64,
    change: StatusChange,
) -> Result<HttpResponse, AppError> {
    let admin_id = admin.0.user.id;
    if id == admin_id {
        return Err(AppError::BadRequest(
            "you cannot disable or delete your own account".into(),
        ));
    }
    let ip = client_ip(req);
    crate::db::run(&state.pool, move |c| {
        let target = user::find(c, id)?
            .filter(|u| u.status() != Some(UserStatus::Deleted))
            .ok_or(AppError::NotFound)?;
        let now = crate::db::now();
        let action = match change {
            StatusChange::Disable => {
                user::set_status(c, id, UserStatus::Disabled, now)?;
                "user_disabled"
            }
            StatusChange::Enable => {
                user::set_status(c, id, UserStatus::Active, now)?;
                "user_enabled"
            }
            StatusChange::Delete => {
                user::delete(c, id, now)?;
                "user_deleted"
            }
        };
        activity::record(
            c,
            &Activity {
                user_id: Some(admin_id),
                action,
                subject_type: "user",
                subject_id: Some(id),
                details: &target.email,
                ip: &ip,
            },
            now,
        )?;
        Ok(())
    })
    .await?;
    Ok(match change {
        StatusChange::Delete => see_other("/users?done=deleted"),
        _ => see_other(&format!("/users/{id}?done=saved")),
    })
}

/// `POST /users/{id}/disable`: the account's sessions end at once.
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    change_status(&state, &req, &admin, id.into_inner(), StatusChange::Disable).await
}

/// `POST /users/{id}/enable`.
pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    change_status(&state, &req, &admin, id.into_inner(), StatusChange::Enable).await
}

/// `POST /users/{id}/delete`: conversations become unassigned; history keeps the name.
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<i64>,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    change_status(&state, &req, &admin, id.into_inner(), StatusChange::Delete).await
}
