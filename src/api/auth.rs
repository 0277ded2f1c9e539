//! Who is calling: an API key (the `X-FreeScout-API-Key` header, the `api_key` query
//! parameter, or HTTP Basic with the key as the user name) acting as its user, or, for
//! reading only, the browser's session. Writes need a key: a cookie alone never changes
//! anything through the API, so no cross-site request can.
//!
//! Each key has a token bucket holding `rate_per_minute` calls and refilling at that
//! rate. The buckets live in this process's memory: with several Postdesk processes
//! behind one address each allows the rate on its own, and a restart refills them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;

use super::error::ApiError;
use super::keys;
use crate::AppState;
use crate::models::user::User;
use crate::web::session::MaybeUser;

/// The header FreeScout clients send the key in.
pub const KEY_HEADER: &str = "X-FreeScout-API-Key";

/// How often `last_used_at` is written for one key, at most.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The caller of an API route.
#[derive(Debug, Clone)]
pub struct ApiUser {
    /// The user the key (or session) acts as.
    pub user: User,
    /// The key, when one was presented.
    pub key_id: Option<i64>,
}

/// The key presented with a request, if any.
pub fn presented_key(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req.headers().get(KEY_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if let Some((_, v)) = query.into_iter().find(|(k, _)| k == "api_key") {
        return Some(v.trim().to_string());
    }
    let auth = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let user = pair.split(':').next().unwrap_or_default().trim();
    (!user.is_empty()).then(|| user.to_string())
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiUser, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let Some(key) = presented_key(&req) else {
                return session_user(&req).await;
            };
            if key.is_empty() || key.len() > 200 {
                return Err(ApiError::Unauthorized);
            }
            let owner = super::error::run(&state.pool, move |c| Ok(keys::owner(c, &key)?))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            if !owner.user.is_active() {
                return Err(ApiError::Unauthorized);
            }
            take_token(owner.key_id, owner.rate_per_minute)?;
            let now = crate::db::now();
            let stale = owner
                .last_used_at
                .is_none_or(|t| (now - t).to_std().unwrap_or_default() >= TOUCH_EVERY);
            if stale {
                let id = owner.key_id;
                super::error::run(&state.pool, move |c| Ok(keys::touch(c, id, now)?)).await?;
            }
            Ok(ApiUser {
                user: owner.user,
                key_id: Some(owner.key_id),
            })
        })
    }
}

/// A logged-in browser may read (GET) without a key; anything else needs one.
async fn session_user(req: &HttpRequest) -> Result<ApiUser, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::Unauthorized);
    }
    let MaybeUser(found) = MaybeUser::extract(req).await?;
    let me = found.ok_or(ApiError::Unauthorized)?;
    Ok(ApiUser {
        user: me.user,
        key_id: None,
    })
}

/// One key's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

fn buckets() -> &'static Mutex<HashMap<i64, Bucket>> {
    static BUCKETS: OnceLock<Mutex<HashMap<i64, Bucket>>> = OnceLock::new();
    BUCKETS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Takes one call from `key_id`'s bucket, or says how many seconds until one is free.
fn take_token(key_id: i64, rate_per_minute: i32) -> Result<(), ApiError> {
    let capacity = f64::from(rate_per_minute.max(1));
    let per_sec = capacity / 60.0;
    let now = Instant::now();
    let mut all = buckets()
        .lock()
        .map_err(|_| ApiError::Internal("rate limiter poisoned".into()))?;
    let b = all.entry(key_id).or_insert(Bucket {
        tokens: capacity,
        at: now,
    });
    let refilled = b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec;
    b.tokens = refilled.min(capacity);
    b.at = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        return Ok(());
    }
    let wait = ((1.0 - b.tokens) / per_sec).ceil().max(1.0);
    // A float of at most 60 × the bucket size: it fits a u64.
    Err(ApiError::RateLimited(wait as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_rate_then_asks_to_wait() {
        let key = -7;
        for _ in 0..3 {
            take_token(key, 3).unwrap();
        }
        match take_token(key, 3) {
            Err(ApiError::RateLimited(secs)) => assert!((1..=20).contains(&secs), "{secs}"),
            other => panic!("expected 429, got {other:?}"),
        }
    }
}
