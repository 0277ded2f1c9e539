//! Who is asking: the session cookie, the logged-in user extractors, and the CSRF check
//! every state-changing request passes through ([`CsrfForm`], the one place).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::token;
use crate::error::AppError;
use crate::models::session::{self, NewSession, Session};
use crate::models::user::User;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pd_session";
/// The cookie holding the CSRF token of visitors who are not logged in.
pub const CSRF_COOKIE: &str = "pd_csrf";
/// The form field (or `X-CSRF-Token` header) carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";

/// A logged-in, active user and their session.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub user: User,
    /// The session.
    pub session: Session,
    /// Unread in-app notifications (for the top bar).
    pub unread_notifications: i64,
}

/// A logged-in administrator.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

/// The logged-in user, if any (for pages anyone may open).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal("application state missing".into()))
}

/// Looks the session cookie up once per request (the result is kept in the request).
async fn load(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    if let Some(found) = req.extensions().get::<Option<CurrentUser>>() {
        return Ok(found.clone());
    }
    let found = match req.cookie(SESSION_COOKIE) {
        None => None,
        Some(cookie) => {
            let state = state_of(req)?;
            let value = cookie.value().to_string();
            crate::db::run(&state.pool, move |conn| {
                let Some((session, user)) = session::find_live(conn, &value, crate::db::now())?
                else {
                    return Ok(None);
                };
                let unread = crate::models::notification::unread_count(conn, user.id)?;
                Ok(Some(CurrentUser {
                    user,
                    session,
                    unread_notifications: unread,
                }))
            })
            .await?
        }
    };
    req.extensions_mut().insert(found.clone());
    Ok(found)
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            load(&req).await?.ok_or(if is_api(&req) {
                AppError::Unauthorized
            } else {
                AppError::LoginRequired
            })
        })
    }
}

impl FromRequest for AdminUser {
    type Error = AppError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if user.user.is_admin() {
                Ok(AdminUser(user))
            } else {
                Err(AppError::Forbidden)
            }
        })
    }
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(load(&req).await?)) })
    }
}

/// The client's address as the socket saw it (forwarding headers can be forged, so
/// throttling does not trust them).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// The browser's User-Agent header.
pub fn user_agent(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn secure(state: &AppState) -> bool {
    state.config.public_url().starts_with("https://")
}

/// The cookie for a new session: HttpOnly, SameSite=Lax, Secure behind HTTPS; persistent
/// only with "remember me".
pub fn session_cookie(state: &AppState, s: &NewSession, remember: bool) -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, s.token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .finish();
    if remember {
        c.set_max_age(time::Duration::days(session::REMEMBER_DAYS));
    }
    c
}

/// A cookie that removes the session cookie.
pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .finish();
    c.make_removal();
    c
}

/// The CSRF token a page must put in its forms, and the cookie to set when a visitor
/// who is not logged in has none yet.
pub fn page_csrf(
    req: &HttpRequest,
    user: Option<&CurrentUser>,
) -> Result<(String, Option<Cookie<'static>>), AppError> {
    if let Some(u) = user {
        return Ok((u.session.csrf_token.clone(), None));
    }
    if let Some(c) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() == 64) {
        return Ok((c.value().to_string(), None));
    }
    let fresh = token::random_token().map_err(AppError::Internal)?;
    let state = state_of(req)?;
    let cookie = Cookie::build(CSRF_COOKIE, fresh.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(&state))
        .finish();
    Ok((fresh, Some(cookie)))
}

/// A url-encoded form whose `csrf_token` field (or `X-CSRF-Token` header) matched the
/// session's token (or, before login, the visitor's CSRF cookie). Every handler that
/// changes state takes its input through this extractor.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

/// Largest form body accepted.
const FORM_LIMIT: usize = 64 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(format!("cannot read the form: {e}")))?;
            if body.len() > FORM_LIMIT {
                return Err(AppError::BadRequest("the form is too large".into()));
            }
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))?;
            let sent = pairs
                .iter()
                .find(|(k, _)| k == CSRF_FIELD)
                .map(|(_, v)| v.clone())
                .or_else(|| {
                    req.headers()
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let expected = match load(&req).await? {
                Some(u) => Some(u.session.csrf_token),
                None => req.cookie(CSRF_COOKIE).map(|c| c.value().to_string()),
            };
            match expected {
                Some(e) if !e.is_empty() && token::constant_time_eq(&e, &sent) => {}
                _ => {
                    tracing::warn!(path = %req.path(), "request refused: CSRF token missing or wrong");
                    return Err(AppError::CsrfRejected);
                }
            }
            let value = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))?;
            Ok(CsrfForm(value))
        })
    }
}
