//! Logging in and out, and the one-time links: password reset and invitation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::auth::login::{self, Refusal};
use crate::auth::{password, throttle};
use crate::db::types::UserTokenKind;
use crate::error::AppError;
use crate::i18n;
use crate::models::activity::{self, Activity};
use crate::models::{session, system_settings, user, user_token};
use crate::system_mail::{self, SystemMail};
use crate::web::page::{render, render_status, see_other};
use crate::web::session::{
    CsrfForm, CurrentUser, MaybeUser, client_ip, expired_session_cookie, session_cookie, user_agent,
};

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    remember: Option<String>,
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

/// `GET /login`.
pub async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: MaybeUser,
) -> Result<HttpResponse, AppError> {
    if who.0.is_some() {
        return Ok(see_other("/"));
    }
    render(
        &state,
        &req,
        None,
        "account/login.html",
        tera::Context::new(),
    )
}

/// `POST /login`: checks the password, then starts a brand-new session (any session the
/// browser had is ended, so a planted session id is worthless).
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: MaybeUser,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req);
    let agent = user_agent(&req);
    let remember = form.remember.is_some();
    let old_session = who.0.map(|u| u.session.id);
    let email = form.email.clone();
    let outcome = crate::db::run(&state.pool, move |conn| {
        let now = crate::db::now();
        match login::attempt(conn, &form.email, &form.password, &ip, now)? {
            Ok(u) => {
                if let Some(old) = old_session {
                    session::delete(conn, old)?;
                }
                let s = session::create(conn, u.id, remember, &ip, &agent, now)?;
                Ok(Ok(s))
            }
            Err(r) => Ok(Err(r)),
        }
    })
    .await?;
    match outcome {
        Ok(new_session) => Ok(HttpResponse::SeeOther()
            .cookie(session_cookie(&state, &new_session, remember))
            .insert_header((actix_web::http::header::LOCATION, "/"))
            .finish()),
        Err(refusal) => {
            let lang = crate::web::page::language(&req, None);
            let (status, error) = match refusal {
                Refusal::BadCredentials => {
                    (StatusCode::UNAUTHORIZED, i18n::t(lang, "login_failed"))
                }
                Refusal::Locked(minutes) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    i18n::t(lang, "login_locked").replace("{minutes}", &minutes.to_string()),
                ),
            };
            let mut ctx = tera::Context::new();
            ctx.insert("error", &error);
            ctx.insert("email", &email);
            render_status(&state, &req, None, "account/login.html", ctx, status)
        }
    }
}

/// `POST /logout`.
pub async fn logout(
    state: web::Data<AppState>,
    me: CurrentUser,
    _form: CsrfForm<EmptyForm>,
) -> Result<HttpResponse, AppError> {
    let id = me.session.id;
    crate::db::run(&state.pool, move |conn| Ok(session::delete(conn, id)?)).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(expired_session_cookie(&state))
        .insert_header((actix_web::http::header::LOCATION, "/login"))
        .finish())
}

/// Reset mails per account within the throttle window.
const RESET_MAILS_PER_WINDOW: i64 = 3;

/// The "forgot password" form.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// `GET /password/forgot`: the form, or a note that reset mail is not configured.
pub async fn forgot_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let smtp = crate::db::run(&state.pool, |c| Ok(system_settings::load_smtp(c)?)).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("mail_configured", &smtp.is_configured());
    render(&state, &req, None, "account/forgot.html", ctx)
}

/// `POST /password/forgot`: mails a reset link when the account exists; the answer is the
/// same either way.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let ip = client_ip(&req);
    let app_url = state.config.public_url();
    let templates = state.templates.clone();
    let configured = crate::db::run(&state.pool, move |conn| {
        let smtp = system_settings::load_smtp(conn)?;
        if !smtp.is_configured() {
            return Ok(false);
        }
        let now = crate::db::now();
        let Some(u) = user::find_by_email(conn, &form.email)?.filter(|u| u.is_active()) else {
            return Ok(true);
        };
        // At most a few reset mails per account and quarter hour: no mail bombing.
        let key = format!("reset:{}", u.email);
        if throttle::locked_for(conn, &key, RESET_MAILS_PER_WINDOW, now)?.is_some() {
            tracing::warn!(user.id = u.id, "password reset mail throttled");
            return Ok(true);
        }
        throttle::record_failure(conn, &[&key], now)?;
        let secret = user_token::create(conn, u.id, UserTokenKind::PasswordReset, now)?;
        activity::record(
            conn,
            &Activity {
                user_id: Some(u.id),
                action: "password_reset_requested",
                subject_type: "user",
                subject_id: Some(u.id),
                ip: &ip,
                ..Activity::default()
            },
            now,
        )?;
        let mail = link_mail(
            &templates,
            &u.locale,
            "emails/password_reset.txt",
            "mail_reset_subject",
            &u.email,
            &format!("{app_url}/password/reset/{secret}"),
            &u.full_name(),
        )?;
        if let Err(e) = system_mail::send(&smtp, &mail) {
            tracing::error!(user.id = u.id, error = %e, "password reset mail not sent");
        }
        Ok(true)
    })
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("mail_configured", &configured);
    ctx.insert("sent", &true);
    render(&state, &req, None, "account/forgot.html", ctx)
}

/// Renders a one-time-link mail in the recipient's language.
pub fn link_mail(
    templates: &tera::Tera,
    locale: &str,
    template: &str,
    subject_key: &str,
    to: &str,
    link: &str,
    name: &str,
) -> Result<SystemMail, AppError> {
    let lang = i18n::supported(locale);
    let mut ctx = tera::Context::new();
    ctx.insert("t", i18n::catalog(lang));
    ctx.insert("link", link);
    ctx.insert("name", name);
    let body = templates
        .render(template, &ctx)
        .map_err(|e| AppError::Internal(crate::assets::describe_tera_error(&e)))?;
    Ok(SystemMail {
        to: to.to_string(),
        subject: i18n::t(lang, subject_key),
        body,
    })
}

/// The "choose a password" form behind a reset or invitation link.
#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    password: String,
    password_confirm: String,
}

fn link_kind(path: &str) -> UserTokenKind {
    if path.starts_with("/invite/") {
        UserTokenKind::Invite
    } else {
        UserTokenKind::PasswordReset
    }
}

/// `GET /password/reset/{token}` and `GET /invite/{token}`.
pub async fn link_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    secret: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let kind = link_kind(req.path());
    let secret = secret.into_inner();
    let valid = crate::db::run(&state.pool, move |c| {
        Ok(user_token::peek(c, &secret, kind, crate::db::now())?.is_some())
    })
    .await?;
    set_password_page(&state, &req, kind, valid, None)
}

fn set_password_page(
    state: &AppState,
    req: &HttpRequest,
    kind: UserTokenKind,
    valid: bool,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("invite", &(kind == UserTokenKind::Invite));
    ctx.insert("valid", &valid);
    ctx.insert("error", &error);
    let status = match (valid, &error) {
        (false, _) => StatusCode::GONE,
        (true, Some(_)) => StatusCode::UNPROCESSABLE_ENTITY,
        (true, None) => StatusCode::OK,
    };
    render_status(state, req, None, "account/set_password.html", ctx, status)
}

/// `POST /password/reset/{token}` and `POST /invite/{token}`: sets the password and uses the
/// link up. A reset ends every session of the account; an invitation logs the new agent in.
pub async fn complete_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    secret: web::Path<String>,
    CsrfForm(form): CsrfForm<SetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let kind = link_kind(req.path());
    let lang = crate::web::page::language(&req, None);
    let secret = secret.into_inner();
    let peek_secret = secret.clone();
    let owner = crate::db::run(&state.pool, move |c| {
        let Some(id) = user_token::peek(c, &peek_secret, kind, crate::db::now())? else {
            return Ok(None);
        };
        Ok(user::find(c, id)?)
    })
    .await?;
    let Some(owner) = owner else {
        return set_password_page(&state, &req, kind, false, None);
    };
    if form.password != form.password_confirm {
        let e = i18n::t(lang, "password_mismatch");
        return set_password_page(&state, &req, kind, true, Some(e));
    }
    if let Err(w) = password::check_strength(&form.password, &owner.email) {
        let e = i18n::t(lang, w.message_key());
        return set_password_page(&state, &req, kind, true, Some(e));
    }
    let hash = password::hash(&form.password).map_err(AppError::Internal)?;
    let ip = client_ip(&req);
    let agent = user_agent(&req);
    let done = crate::db::run(&state.pool, move |conn| {
        crate::db::dialect::write_transaction(&mut *conn, |c| {
            let now = crate::db::now();
            let Some(id) = user_token::consume(c, &secret, kind, now)? else {
                return Ok(None);
            };
            user::set_password(c, id, &hash, now)?;
            session::delete_for_user(c, id)?;
            let action = match kind {
                UserTokenKind::Invite => "invite_accepted",
                UserTokenKind::PasswordReset => "password_reset",
            };
            activity::record(
                c,
                &Activity {
                    user_id: Some(id),
                    action,
                    subject_type: "user",
                    subject_id: Some(id),
                    ip: &ip,
                    ..Activity::default()
                },
                now,
            )?;
            let s = match kind {
                UserTokenKind::Invite => Some(session::create(c, id, false, &ip, &agent, now)?),
                UserTokenKind::PasswordReset => None,
            };
            Ok::<_, AppError>(Some(s))
        })
    })
    .await?;
    match done {
        None => set_password_page(&state, &req, kind, false, None),
        Some(Some(s)) => Ok(HttpResponse::SeeOther()
            .cookie(session_cookie(&state, &s, false))
            .insert_header((actix_web::http::header::LOCATION, "/"))
            .finish()),
        Some(None) => Ok(see_other("/login?done=password_reset")),
    }
}
