//! The user's own profile: name, email, time zone, language, clock, password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::auth::password;
use crate::error::AppError;
use crate::i18n;
use crate::models::activity::{self, Activity};
use crate::models::{session, user};
use crate::web::page::{render_status, see_other};
use crate::web::session::{CsrfForm, CurrentUser, client_ip, session_cookie, user_agent};

/// Time zones offered (IANA names).
pub const TIMEZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Minsk",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Baku",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
];

/// A time zone we offer, or UTC.
pub fn known_timezone(tz: &str) -> &'static str {
    TIMEZONES
        .iter()
        .find(|z| **z == tz)
        .copied()
        .unwrap_or("UTC")
}

async fn profile_page(
    state: &AppState,
    req: &HttpRequest,
    me: &CurrentUser,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let id = me.user.id;
    let prefs = crate::db::run(&state.pool, move |c| {
        Ok(crate::models::notification::prefs(c, id)?)
    })
    .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("user", &me.user);
    ctx.insert("notify_prefs", &prefs);
    ctx.insert("timezones", TIMEZONES);
    ctx.insert("error", &error);
    render_status(state, req, Some(me), "account/profile.html", ctx, status)
}

/// `GET /profile`.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    profile_page(&state, &req, &me, None, StatusCode::OK).await
}

/// The profile form.
#[derive(Debug, Deserialize)]
pub struct ProfileForm {
    first_name: String,
    last_name: String,
    email: String,
    timezone: String,
    locale: String,
    time_format: String,
}

/// `POST /profile`.
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let lang = i18n::supported(&me.user.locale);
    let email = form.email.trim().to_lowercase();
    if form.first_name.trim().is_empty() || !looks_like_email(&email) {
        let e = i18n::t(lang, "profile_invalid");
        return profile_page(&state, &req, &me, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let changes = user::ProfileChanges {
        first_name: form.first_name.trim().to_string(),
        last_name: form.last_name.trim().to_string(),
        email: email.clone(),
        timezone: known_timezone(&form.timezone).to_string(),
        locale: i18n::supported(&form.locale).to_string(),
        time_format: if form.time_format == "12" { 12 } else { 24 },
        updated_at: crate::db::now(),
    };
    let id = me.user.id;
    let ip = client_ip(&req);
    let taken = crate::db::run(&state.pool, move |c| {
        if user::find_by_email(c, &changes.email)?.is_some_and(|u| u.id != id) {
            return Ok(true);
        }
        user::update_profile(c, id, &changes)?;
        activity::record(
            c,
            &Activity {
                user_id: Some(id),
                action: "profile_changed",
                subject_type: "user",
                subject_id: Some(id),
                ip: &ip,
                ..Activity::default()
            },
            changes.updated_at,
        )?;
        Ok(false)
    })
    .await?;
    if taken {
        let e = i18n::t(lang, "email_taken");
        return profile_page(&state, &req, &me, Some(e), StatusCode::CONFLICT).await;
    }
    Ok(see_other("/profile?done=saved"))
}

/// The password change form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirm: String,
}

/// `POST /profile/password`: needs the current password; ends every other session and
/// gives this browser a new one.
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let lang = i18n::supported(&me.user.locale);
    let id = me.user.id;
    let stored = crate::db::run(&state.pool, move |c| Ok(user::password_hash(c, id)?)).await?;
    let problem = if !password::verify(&form.current_password, &stored) {
        Some("current_password_wrong")
    } else if form.new_password != form.new_password_confirm {
        Some("password_mismatch")
    } else {
        password::check_strength(&form.new_password, &me.user.email)
            .err()
            .map(|w| w.message_key())
    };
    if let Some(key) = problem {
        let e = i18n::t(lang, key);
        return profile_page(&state, &req, &me, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let hash = password::hash(&form.new_password).map_err(AppError::Internal)?;
    let ip = client_ip(&req);
    let agent = user_agent(&req);
    let remember = me.session.remember;
    let fresh = crate::db::run(&state.pool, move |c| {
        crate::db::dialect::write_transaction(&mut *c, |c| {
            let now = crate::db::now();
            user::set_password(c, id, &hash, now)?;
            session::delete_for_user(c, id)?;
            activity::record(
                c,
                &Activity {
                    user_id: Some(id),
                    action: "password_changed",
                    subject_type: "user",
                    subject_id: Some(id),
                    ip: &ip,
                    ..Activity::default()
                },
                now,
            )?;
            session::create(c, id, remember, &ip, &agent, now)
        })
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .cookie(session_cookie(&state, &fresh, remember))
        .insert_header((
            actix_web::http::header::LOCATION,
            "/profile?done=password_changed",
        ))
        .finish())
}

/// A light check that an address has one `@` with text on both sides and a dot after.
pub fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}
